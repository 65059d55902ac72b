//! Property tests: typed messages survive encode → stream (split anywhere) → decode unchanged, and no input
//! bytes make the decoders panic.

use proptest::prelude::*;
use serde_json::Value;
use smartro_terminal::*;

fn extra() -> impl Strategy<Value = Extra> {
    // Keys no message defines, so that they come back in `extra` and not in a typed field.
    let value = prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        "[가-힣a-z0-9 ]{0,8}".prop_map(Value::from),
        Just(Value::Null),
    ];
    prop::collection::btree_map("x_[a-z]{1,6}", value, 0..3).prop_map(|m| m.into_iter().collect())
}

fn ptxid() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_-]{1,64}"
}

fn code() -> impl Strategy<Value = String> {
    "[0-9A-Z]{1,20}"
}

fn text() -> impl Strategy<Value = String> {
    "[가-힣a-zA-Z0-9 ]{0,12}"
}

/// A valid price split: total, tax, tip, tax-free.
fn price() -> impl Strategy<Value = (i64, i64, i64, i64)> {
    (1i64..=1_000_000_000).prop_flat_map(|p| {
        (0..=p).prop_flat_map(move |tax| {
            (0..=p - tax).prop_flat_map(move |tip| {
                (0..=p - tax - tip).prop_map(move |free| (p, tax, tip, free))
            })
        })
    })
}

fn installment() -> impl Strategy<Value = i64> {
    prop_oneof![Just(0i64), 2i64..=36]
}

fn trader() -> impl Strategy<Value = TraderType> {
    prop_oneof![
        Just(TraderType::IncomeDeduction),
        Just(TraderType::ExpenseProof)
    ]
}

fn identity() -> impl Strategy<Value = Option<String>> {
    prop::option::of("[0-9]{1,4}-?[0-9]{1,10}")
}

fn cancel() -> impl Strategy<Value = CancelRequest> {
    (
        1i64..=MAX_AMOUNT,
        code(),
        "[0-9]{14}",
        code(),
        ptxid(),
        extra(),
    )
        .prop_map(|(a, no, date, tno, p, x)| CancelRequest {
            approval_amt: a,
            approval_no: no,
            transaction_date: date,
            transaction_no: tno,
            ptxid: p,
            extra: x,
        })
}

fn print_command() -> impl Strategy<Value = PrintCommand> {
    let size = prop::option::of(6i64..=60);
    prop_oneof![
        prop_oneof![
            Just(PrintCommandKind::Logo),
            Just(PrintCommandKind::Line),
            Just(PrintCommandKind::CuttingLine),
            Just(PrintCommandKind::Br)
        ]
        .prop_map(PrintCommand::bare),
        (size.clone(), prop::collection::vec(text(), 1..4)).prop_map(|(s, m)| PrintCommand {
            font_size: s,
            ..PrintCommand::text(PrintCommandKind::Left, 10, m)
        }),
        (6i64..=60, text(), text()).prop_map(|(s, a, b)| PrintCommand::text(
            PrintCommandKind::Text2,
            s,
            vec![a, b]
        )),
        (6i64..=60, text(), text(), text()).prop_map(|(s, a, b, c)| PrintCommand::text(
            PrintCommandKind::Text3,
            s,
            vec![a, b, c]
        )),
    ]
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        (price(), installment(), ptxid(), extra()).prop_map(|((p, t, tip, f), i, id, x)| {
            Request::CardApproval(ApprovalRequest {
                price_amt: p,
                tax_amt: t,
                tip_amt: tip,
                tax_free_amt: f,
                installment: i,
                ptxid: id,
                extra: x,
            })
        }),
        cancel().prop_map(Request::CardCancel),
        cancel().prop_map(Request::EasyPayCancel),
        ("[A-Z]{3}", price(), installment(), ptxid(), extra()).prop_map(
            |(s, (p, t, tip, f), i, id, x)| {
                Request::EasyPayApproval(EasyPayApprovalRequest {
                    service_code: s,
                    price_amt: p,
                    tax_amt: t,
                    tip_amt: tip,
                    tax_free_amt: f,
                    installment: i,
                    ptxid: id,
                    extra: x,
                })
            }
        ),
        (price(), trader(), identity(), ptxid(), extra()).prop_map(
            |((p, t, tip, f), tt, n, id, x)| {
                Request::CashReceiptIssue(CashReceiptRequest {
                    price_amt: p,
                    tax_amt: t,
                    tip_amt: tip,
                    tax_free_amt: f,
                    trader_type: tt,
                    approval_number: n,
                    ptxid: id,
                    extra: x,
                })
            }
        ),
        (cancel(), trader(), identity()).prop_map(|(c, tt, n)| Request::CashReceiptCancel(
            CashReceiptCancelRequest {
                approval_amt: c.approval_amt,
                approval_no: c.approval_no,
                transaction_date: c.transaction_date,
                transaction_no: c.transaction_no,
                trader_type: tt,
                approval_number: n,
                ptxid: c.ptxid,
                extra: c.extra,
            }
        )),
        prop_oneof![
            Just(ReadCancelKind::Card),
            Just(ReadCancelKind::EasyPay),
            Just(ReadCancelKind::CashReceipt)
        ]
        .prop_map(Request::ReadCancel),
        Just(Request::LastTransaction),
        Just(Request::ResultConfirmation),
        Just(Request::CodeDownload),
        Just(Request::Abort),
        (2000u32..2100, 1u32..=12, 1u32..=28, 0u32..30, extra()).prop_map(|(y, m, d, span, x)| {
            let to_day = (d + span).min(31);
            Request::SalesTotals(TotalsRequest {
                from: format!("{y}{m:02}{d:02}"),
                to: format!("{y}{m:02}{to_day:02}"),
                extra: x,
            })
        }),
        (
            prop::option::of(text().prop_filter("non-empty", |t| !t.is_empty())),
            prop::option::of(any::<bool>()),
            prop::collection::vec(print_command(), 1..10),
            extra()
        )
            .prop_map(|(f, a, c, x)| Request::Print(PrintRequest {
                font_family: f,
                alert: a,
                commands: c,
                extra: x
            })),
        (
            prop::option::of(1i64..1_000_000),
            prop::option::of(prop_oneof![
                any::<i64>().prop_map(TextOrNumber::Number),
                code().prop_map(TextOrNumber::Text)
            ]),
            prop::option::of(ptxid()),
            prop::option::of(code()),
            extra()
        )
            .prop_map(|(a, s, id, f, x)| {
                Request::TaxRefundIssue(TaxRefundIssueRequest {
                    approval_amt: a,
                    sales_serial: s,
                    ptx_id: id,
                    facilitator_number: f,
                    extra: x,
                    ..Default::default()
                })
            }),
        (
            code(),
            prop::option::of(any::<bool>()),
            prop::option::of(ptxid()),
            extra(),
            any::<bool>()
        )
            .prop_map(|(serial, p, id, x, cancel)| {
                let r = TaxRefundSlipRequest {
                    tax_refund_serial: serial,
                    is_print: p,
                    ptx_id: id,
                    extra: x,
                };
                if cancel {
                    Request::TaxRefundCancel(r)
                } else {
                    Request::TaxRefundInquiry(r)
                }
            }),
    ]
}

fn result_code() -> impl Strategy<Value = ResultCode> {
    prop_oneof![
        Just(ResultCode::Success),
        Just(ResultCode::SignatureWait),
        Just(ResultCode::Cancelled),
        Just(ResultCode::Unable),
        Just(ResultCode::Busy),
        "[0-9A-Z]{4}".prop_map(|c| ResultCode::from(c.as_str())),
    ]
}

fn transaction_data() -> impl Strategy<Value = TransactionData> {
    (
        prop::option::of(code()),
        prop::option::of(code()),
        prop::option::of(0i64..=MAX_AMOUNT),
        prop::option::of(installment()),
        prop::option::of(text()),
        prop::option::of("[A-Z]{3}"),
        prop::option::of(0i64..1000),
        prop::option::of(trader()),
        prop::option::of(ptxid()),
        extra(),
    )
        .prop_map(
            |(no, tno, amt, inst, issuer, service, point, trader, ptxid, x)| TransactionData {
                approval_no: no,
                transaction_no: tno,
                approval_amt: amt,
                installment: inst,
                issuer_name: issuer,
                service_code: service,
                point_amt1: point,
                trader_type: trader,
                ptxid,
                extra: x,
                ..TransactionData::default()
            },
        )
}

fn envelope() -> impl Strategy<Value = (ResultCode, String, Extra)> {
    (result_code(), text(), extra())
}

fn response() -> impl Strategy<Value = Response> {
    prop_oneof![
        (envelope(), prop::option::of(transaction_data()), 0u8..7).prop_map(
            |((c, m, x), d, which)| {
                let r = Reply {
                    result_code: c,
                    result_message: m,
                    data: d,
                    extra: x,
                };
                match which {
                    0 => Response::CardApproval(r),
                    1 => Response::CardCancel(r),
                    2 => Response::EasyPayApproval(r),
                    3 => Response::EasyPayCancel(r),
                    4 => Response::CashReceiptIssue(r),
                    5 => Response::CashReceiptCancel(r),
                    _ => Response::LastTransaction(r),
                }
            }
        ),
        (envelope(), prop::option::of(ptxid())).prop_map(|((c, m, x), p)| Response::ReadCancel(
            ReadCancelKind::Card,
            Reply {
                result_code: c,
                result_message: m,
                data: p.map(|p| PtxidData {
                    ptxid: Some(p),
                    extra: Extra::new()
                }),
                extra: x
            }
        )),
        (envelope(), 0u8..3).prop_map(|((c, m, x), which)| {
            let r = Reply {
                result_code: c,
                result_message: m,
                data: None,
                extra: x,
            };
            match which {
                0 => Response::ResultConfirmation(r),
                1 => Response::Print(r),
                _ => Response::Abort(r),
            }
        }),
        (
            envelope(),
            prop::option::of(text()),
            0i64..1000,
            0i64..=MAX_AMOUNT
        )
            .prop_map(|((c, m, x), period, n, p)| {
                let bucket = TotalsBucket {
                    count: n,
                    price: p,
                    issuer: n,
                    extra: Extra::new(),
                };
                Response::SalesTotals(TotalsReply {
                    result_code: c,
                    result_message: m,
                    period,
                    data: Some(TotalsData {
                        approved: bucket.clone(),
                        canceled: bucket,
                        extra: Extra::new(),
                    }),
                    extra: x,
                })
            }),
        (envelope(), prop::collection::vec((code(), text()), 0..4)).prop_map(
            |((c, m, x), codes)| {
                Response::CodeDownload(Reply {
                    result_code: c,
                    result_message: m,
                    extra: x,
                    data: Some(CodeList {
                        total_count: Some(codes.len() as i64),
                        code_list: codes
                            .into_iter()
                            .map(|(code, name)| CodeEntry {
                                code,
                                code_name: name,
                                ..CodeEntry::default()
                            })
                            .collect(),
                        extra: Extra::new(),
                    }),
                })
            }
        ),
        (
            envelope(),
            prop::option::of(0i64..1_000_000),
            prop::option::of(code())
        )
            .prop_map(|((c, m, x), bal, serial)| {
                Response::TaxRefundInquiry(Reply {
                    result_code: c,
                    result_message: m,
                    extra: x,
                    data: Some(TaxRefundSlip {
                        refund_balance: bal,
                        taxrefund_serial: serial,
                        ..TaxRefundSlip::default()
                    }),
                })
            }),
    ]
}

/// Feed `bytes` to a decoder in pieces cut at `cuts` (positions taken modulo the length).
fn feed(bytes: &[u8], cuts: &[usize]) -> Result<Vec<Frame>, FrameError> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.push(0);
    points.push(bytes.len());
    points.sort_unstable();
    let mut d = FrameDecoder::new();
    let mut frames = Vec::new();
    for pair in points.windows(2) {
        d.push(&bytes[pair[0]..pair[1]]);
        while let Some(f) = d.next_frame()? {
            frames.push(f);
        }
    }
    Ok(frames)
}

/// Bytes that look like frames often enough to reach past the header.
fn stream_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..16),
        "[0-9]{10}".prop_map(String::into_bytes),
        (6usize..40, prop_oneof![Just("010010"), Just("990001"), Just("050099"), Just("900091"), Just("123456")])
            .prop_map(|(n, t)| format!("{n:04}{t}").into_bytes()),
        Just(b"{\"resultCode\":\"0000\",\"data\":{\"ptxid\":\"P\",\"approvalAmt\":-1}}".to_vec()),
        Just(b"{\"priceAmt\":\"1e3\",\"ptxid\":1}".to_vec()),
        Just(b"{\"commands\":[{\"command\":\"text2\",\"fontSize\":1.5}]}".to_vec()),
        Just("\"가\"".as_bytes().to_vec()),
        Just(b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[".to_vec()),
    ];
    prop::collection::vec(piece, 0..12).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn requests_round_trip_through_a_split_stream(r in request(), cuts in prop::collection::vec(any::<usize>(), 0..6)) {
        let bytes = r.encode();
        prop_assert!(bytes.is_ok(), "{:?}: {:?}", r, bytes);
        let frames = feed(&bytes.unwrap_or_default(), &cuts);
        prop_assert!(frames.is_ok(), "{:?}", frames);
        let frames = frames.unwrap_or_default();
        prop_assert_eq!(frames.len(), 1);
        prop_assert_eq!(Request::from_frame(&frames[0]), Ok(r));
    }

    #[test]
    fn responses_round_trip_through_a_split_stream(r in response(), cuts in prop::collection::vec(any::<usize>(), 0..6)) {
        let bytes = r.encode();
        prop_assert!(bytes.is_ok(), "{:?}: {:?}", r, bytes);
        let frames = feed(&bytes.unwrap_or_default(), &cuts).unwrap_or_default();
        prop_assert_eq!(frames.len(), 1);
        prop_assert_eq!(Response::from_frame(&frames[0]), Ok(r));
    }

    #[test]
    fn several_messages_back_to_back(rs in prop::collection::vec(request(), 1..5), cuts in prop::collection::vec(any::<usize>(), 0..10)) {
        let bytes: Vec<u8> = rs.iter().flat_map(|r| r.encode().unwrap_or_default()).collect();
        let frames = feed(&bytes, &cuts).unwrap_or_default();
        let decoded: Vec<Request> = frames.iter().filter_map(|f| Request::from_frame(f).ok()).collect();
        prop_assert_eq!(decoded, rs);
    }

    #[test]
    fn no_bytes_make_the_decoders_panic(bytes in stream_bytes(), cuts in prop::collection::vec(any::<usize>(), 0..6)) {
        let frames = feed(&bytes, &cuts);
        let whole = feed(&bytes, &[]);
        // How the bytes are cut never changes the outcome.
        prop_assert_eq!(frames.is_ok(), whole.is_ok());
        for f in frames.unwrap_or_default() {
            if let Ok(r) = Request::from_frame(&f) {
                let _ = (r.validate(), r.ptxid(), r.is_transaction(), r.encode());
            }
            if let Ok(r) = Response::from_frame(&f) {
                let _ = (r.ptxid(), r.is_interim(), r.result_code().cloned(), r.encode());
            }
        }
    }

    #[test]
    fn any_body_under_any_known_type_never_panics(body in prop::collection::vec(any::<u8>(), 0..64), n in 0u32..1_000_000) {
        let t = MessageType::from_number(n);
        let f = Frame::new(t, body);
        let _ = Request::from_frame(&f).map(|r| r.encode());
        let _ = Response::from_frame(&f).map(|r| r.encode());
    }
}
