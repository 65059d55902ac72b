//! The card-terminal simulator over real TCP, driven by a small POS client built on `smartro-terminal`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chrono::Utc;
use sandbox::terminal::{Direction, Screen, TerminalConfig, TerminalSimulator, DECLINED};
use sandbox::{AutoDecision, Sandbox, SandboxConfig};
use smartro_terminal::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(5);

/// A POS: writes requests, reads answers through the frame decoder.
struct Pos {
    stream: TcpStream,
    decoder: FrameDecoder,
}

impl Pos {
    async fn connect(addr: SocketAddr) -> Pos {
        match TcpStream::connect(addr).await {
            Ok(stream) => Pos {
                stream,
                decoder: FrameDecoder::new(),
            },
            Err(e) => panic!("connect {addr}: {e}"),
        }
    }

    async fn send_raw(&mut self, bytes: &[u8]) {
        if let Err(e) = self.stream.write_all(bytes).await {
            panic!("write: {e}");
        }
    }

    async fn send(&mut self, request: Request) {
        match request.encode() {
            Ok(bytes) => self.send_raw(&bytes).await,
            Err(e) => panic!("encode {request:?}: {e}"),
        }
    }

    /// The next frame within `within`: `None` on timeout, `Some(Err)` on a protocol error or a closed stream.
    async fn next(&mut self, within: Duration) -> Option<Result<Frame, String>> {
        let deadline = Instant::now() + within;
        let mut buf = [0u8; 1024];
        loop {
            match self.decoder.next_frame() {
                Ok(Some(f)) => return Some(Ok(f)),
                Ok(None) => {}
                Err(e) => return Some(Err(e.to_string())),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.stream.read(&mut buf)).await {
                Err(_) => return None,
                Ok(Ok(0)) => return Some(Err("closed".to_string())),
                Ok(Ok(n)) => self.decoder.push(&buf[..n]),
                Ok(Err(e)) => return Some(Err(e.to_string())),
            }
        }
    }

    async fn recv(&mut self) -> Response {
        match self.next(WAIT).await {
            Some(Ok(frame)) => match Response::from_frame(&frame) {
                Ok(r) => r,
                Err(e) => panic!("bad answer: {e}"),
            },
            other => panic!("no answer: {other:?}"),
        }
    }

    /// Whether the terminal closed the connection.
    async fn closed(&mut self) -> bool {
        matches!(self.next(WAIT).await, Some(Err(e)) if e == "closed" || e.contains("reset"))
    }
}

async fn simulator(auto: Option<AutoDecision>) -> TerminalSimulator {
    let config = TerminalConfig {
        auto,
        ..TerminalConfig::for_tests()
    };
    match TerminalSimulator::start(config).await {
        Ok(s) => s,
        Err(e) => panic!("simulator did not start: {e}"),
    }
}

fn approval(amount: i64, ptxid: &str) -> Request {
    Request::CardApproval(ApprovalRequest {
        tax_amt: amount / 11,
        ..ApprovalRequest::new(amount, ptxid)
    })
}

fn data(response: &Response) -> TransactionData {
    response
        .transaction()
        .and_then(|r| r.data.clone())
        .unwrap_or_default()
}

fn code(response: &Response) -> String {
    response
        .result_code()
        .map(|c| c.as_str().to_string())
        .unwrap_or_default()
}

async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn automatic_approval_then_result_confirmation() {
    let sim = simulator(Some(AutoDecision::Approve)).await;
    let mut pos = Pos::connect(sim.addr()).await;
    pos.send(approval(51_000, "CPOS-A1")).await;
    let answer = pos.recv().await;
    assert!(matches!(answer, Response::CardApproval(_)), "{answer:?}");
    assert_eq!(code(&answer), "0000");
    let d = data(&answer);
    assert_eq!(
        (d.approval_amt, d.tax_amt, d.ptxid.as_deref()),
        (Some(51_000), Some(4_636), Some("CPOS-A1"))
    );
    assert!(d.approval_no.is_some() && d.transaction_no.is_some() && d.issuer_name.is_some());
    assert_eq!(d.transaction_date.as_ref().map(String::len), Some(14));
    assert_eq!(
        sim.state().last_transaction().map(|l| l.confirmed),
        Some(false)
    );

    pos.send(Request::ResultConfirmation).await;
    let ack = pos.recv().await;
    assert!(
        matches!(&ack, Response::ResultConfirmation(r) if r.result_message == "end of transmission")
    );
    assert_eq!(code(&ack), "0000");
    assert_eq!(
        sim.state().last_transaction().map(|l| l.confirmed),
        Some(true)
    );

    // The record: 980001 came after the approval's answer was sent.
    let log = sim.state().log();
    let steps: Vec<(Direction, Option<&str>)> = log
        .iter()
        .map(|e| (e.direction, e.message_type.as_deref()))
        .collect();
    assert_eq!(
        steps,
        [
            (Direction::Received, Some("010010")),
            (Direction::Sent, Some("010010")),
            (Direction::Received, Some("980001")),
            (Direction::Sent, Some("980001")),
        ]
    );
    assert_eq!(
        sim.state().received(),
        [Some("010010".to_string()), Some("980001".to_string())]
    );
}

#[tokio::test]
async fn a_person_inserts_the_card() {
    let sim = simulator(None).await;
    let mut pos = Pos::connect(sim.addr()).await;
    assert!(!sim.state().insert_card(), "nothing waits for a card yet");
    pos.send(approval(1_004, "CPOS-M1")).await;
    until("the card prompt", || {
        matches!(
            sim.state().screen(),
            Screen::WaitingCard { amount: 1_004, .. }
        )
    })
    .await;
    assert_eq!(sim.state().screen().text(), "카드를 넣어주세요");
    // Nothing is answered before the card goes in.
    assert!(pos.next(Duration::from_millis(100)).await.is_none());
    assert!(sim.state().insert_card());
    let answer = pos.recv().await;
    assert_eq!(code(&answer), "0000");
    assert!(matches!(sim.state().screen(), Screen::Result { .. }));
}

#[tokio::test]
async fn decline() {
    let sim = simulator(Some(AutoDecision::Approve)).await;
    sim.state().update_faults(|f| f.decline = true);
    let mut pos = Pos::connect(sim.addr()).await;
    pos.send(approval(20_000, "CPOS-D1")).await;
    let answer = pos.recv().await;
    assert_eq!(code(&answer), DECLINED);
    assert_eq!(answer.ptxid(), Some("CPOS-D1"));
    assert!(data(&answer).approval_no.is_none());
    assert!(sim.state().ledger().is_empty());

    // The sandbox's own auto decline as well.
    let sim = simulator(Some(AutoDecision::Decline)).await;
    let mut pos = Pos::connect(sim.addr()).await;
    pos.send(approval(20_000, "CPOS-D2")).await;
    assert_eq!(code(&pos.recv().await), DECLINED);
}

#[tokio::test]
async fn signature_wait_then_approval() {
    let sim = simulator(None).await;
    sim.state().update_faults(|f| f.signature = true);
    let mut pos = Pos::connect(sim.addr()).await;
    pos.send(approval(80_000, "CPOS-S1")).await;
    until("the card prompt", || {
        matches!(sim.state().screen(), Screen::WaitingCard { .. })
    })
    .await;
    assert!(sim.state().insert_card());
    let interim = pos.recv().await;
    assert!(interim.is_interim(), "{interim:?}");
    assert_eq!(
        (code(&interim), interim.ptxid()),
        ("0010".to_string(), Some("CPOS-S1"))
    );
    assert_eq!(sim.state().screen().text(), "서명해 주세요");
    assert!(sim.state().sign());
    let answer = pos.recv().await;
    assert!(!answer.is_interim());
    assert_eq!(code(&answer), "0000");
    assert_eq!(data(&answer).approval_amt, Some(80_000));

    // Automatic: the interim, then the approval, with no one at the terminal.
    let sim = simulator(Some(AutoDecision::Approve)).await;
    sim.state().update_faults(|f| f.signature = true);
    let mut pos = Pos::connect(sim.addr()).await;
    pos.send(approval(80_000, "CPOS-S2")).await;
    assert_eq!(code(&pos.recv().await), "0010");
    assert_eq!(code(&pos.recv().await), "0000");
}

#[tokio::test]
async fn signature_timeout() {
    let sim = simulator(Some(AutoDecision::Approve)).await;
    sim.state().update_faults(|f| f.signature_timeout = true);
    let mut pos = Pos::connect(sim.addr()).await;
    let started = Instant::now();
    pos.send(approval(80_000, "CPOS-T1")).await;
    assert_eq!(code(&pos.recv().await), "0010");
    let answer = pos.recv().await;
    assert!(started.elapsed() >= sim.state().config().signature_timeout);
    assert!(matches!(&answer, Response::CardApproval(r) if r.result_message == "서명시간초과"));
    assert_eq!(
        (code(&answer), answer.ptxid()),
        ("9999".to_string(), Some("CPOS-T1"))
    );
    // The sign button is too late now.
    assert!(!sim.state().sign());
    assert!(sim.state().ledger().is_empty());
}

#[tokio::test]
async fn reading_cancel_ends_the_pending_approval_with_a_user_cancel() {
    let sim = simulator(None).await;
    let mut pos = Pos::connect(sim.addr()).await;
    // Nothing is being read.
    pos.send(Request::ReadCancel(ReadCancelKind::Card)).await;
    assert_eq!(code(&pos.recv().await), "9991");

    pos.send(approval(30_000, "CPOS-R1")).await;
    until("the card prompt", || {
        matches!(sim.state().screen(), Screen::WaitingCard { .. })
    })
    .await;
    // Another kind's reading cancel does not stop a card reading.
    pos.send(Request::ReadCancel(ReadCancelKind::EasyPay)).await;
    assert_eq!(code(&pos.recv().await), "9991");
    pos.send(Request::ReadCancel(ReadCancelKind::Card)).await;
    let done = pos.recv().await;
    assert!(matches!(
        done,
        Response::ReadCancel(ReadCancelKind::Card, _)
    ));
    assert_eq!(
        (code(&done), done.ptxid()),
        ("0000".to_string(), Some("CPOS-R1"))
    );
    let pending = pos.recv().await;
    assert!(matches!(&pending, Response::CardApproval(r) if r.result_message == "사용자 취소"));
    assert_eq!(
        (code(&pending), pending.ptxid()),
        ("9999".to_string(), Some("CPOS-R1"))
    );
    assert!(!sim.state().insert_card());

    pos.send(Request::LastTransaction).await;
    let last = pos.recv().await;
    assert_eq!(
        (code(&last), last.ptxid()),
        ("9999".to_string(), Some("CPOS-R1"))
    );
}

#[tokio::test]
async fn abort_busy_then_done() {
    let sim = simulator(None).await;
    let mut pos = Pos::connect(sim.addr()).await;
    pos.send(Request::Abort).await;
    assert_eq!(code(&pos.recv().await), "9991", "nothing to abort");

    sim.state().update_faults(|f| f.busy = true);
    pos.send(approval(15_000, "CPOS-B1")).await;
    until("the card prompt", || {
        matches!(sim.state().screen(), Screen::WaitingCard { .. })
    })
    .await;
    pos.send(Request::Abort).await;
    let refused = pos.recv().await;
    assert!(matches!(refused, Response::Abort(_)));
    assert_eq!(code(&refused), "0001");
    assert!(
        matches!(sim.state().screen(), Screen::WaitingCard { .. }),
        "still open"
    );

    sim.state().update_faults(|f| f.busy = false);
    pos.send(Request::Abort).await;
    let aborted = pos.recv().await;
    assert!(matches!(&aborted, Response::Abort(r) if r.result_message == "사용자 취소"));
    assert_eq!(code(&aborted), "9999");
    let pending = pos.recv().await;
    assert_eq!(
        (code(&pending), pending.ptxid()),
        ("9999".to_string(), Some("CPOS-B1"))
    );

    // During the signature step the approval is with the card company: it cannot be aborted.
    sim.state().update_faults(|f| f.signature = true);
    pos.send(approval(15_000, "CPOS-B2")).await;
    until("the card prompt", || {
        matches!(sim.state().screen(), Screen::WaitingCard { .. })
    })
    .await;
    sim.state().insert_card();
    assert_eq!(code(&pos.recv().await), "0010");
    pos.send(Request::Abort).await;
    assert_eq!(code(&pos.recv().await), "0001");
    sim.state().sign();
    assert_eq!(code(&pos.recv().await), "0000");
}

#[tokio::test]
async fn a_second_transaction_while_one_is_open_is_busy() {
    let sim = simulator(None).await;
    let mut pos = Pos::connect(sim.addr()).await;
    pos.send(approval(10_000, "CPOS-O1")).await;
    until("the card prompt", || {
        matches!(sim.state().screen(), Screen::WaitingCard { .. })
    })
    .await;
    pos.send(approval(10_000, "CPOS-O2")).await;
    let busy = pos.recv().await;
    assert_eq!(
        (code(&busy), busy.ptxid()),
        ("0001".to_string(), Some("CPOS-O2"))
    );
    sim.state().insert_card();
    assert_eq!(pos.recv().await.ptxid(), Some("CPOS-O1"));
}

#[tokio::test]
async fn drop_after_request_then_last_transaction_reports_the_approval() {
    let sim = simulator(None).await;
    sim.state().update_faults(|f| f.drop_after_request = true);
    let mut pos = Pos::connect(sim.addr()).await;
    pos.send(approval(33_000, "CPOS-X1")).await;
    assert!(pos.closed().await, "the terminal closes the connection");

    let mut pos = Pos::connect(sim.addr()).await;
    pos.send(Request::LastTransaction).await;
    let last = pos.recv().await;
    assert!(matches!(last, Response::LastTransaction(_)), "{last:?}");
    assert_eq!(code(&last), "0000");
    let d = data(&last);
    assert_eq!(
        (d.ptxid.as_deref(), d.approval_amt),
        (Some("CPOS-X1"), Some(33_000))
    );
    assert!(d.approval_no.is_some());
    assert_eq!(sim.state().ledger().len(), 1);
}

#[tokio::test]
async fn last_transaction_when_there_is_none() {
    let sim = simulator(None).await;
    let mut pos = Pos::connect(sim.addr()).await;
    pos.send(Request::LastTransaction).await;
    let last = pos.recv().await;
    assert_eq!((code(&last), last.ptxid()), ("9991".to_string(), None));
}

#[tokio::test]
async fn no_answer_then_last_transaction() {
    let sim = simulator(Some(AutoDecision::Approve)).await;
    sim.state().update_faults(|f| f.no_answer = true);
    let mut pos = Pos::connect(sim.addr()).await;
    pos.send(approval(12_000, "CPOS-N1")).await;
    assert!(
        pos.next(Duration::from_millis(300)).await.is_none(),
        "no answer"
    );
    // Queries are still answered, on the same connection.
    pos.send(Request::LastTransaction).await;
    let last = pos.recv().await;
    assert_eq!(
        (code(&last), last.ptxid()),
        ("0000".to_string(), Some("CPOS-N1"))
    );
}

#[tokio::test]
async fn garbage_from_the_pos_closes_its_connection_and_the_terminal_goes_on() {
    let sim = simulator(Some(AutoDecision::Approve)).await;
    for garbage in [
        &b"GET / HTTP/1.1\r\n\r\n"[..],
        b"0003010010",
        b"0011010010{oops",
        b"\xff\xfe\x00garbage",
    ] {
        let mut pos = Pos::connect(sim.addr()).await;
        pos.send_raw(garbage).await;
        assert!(pos.closed().await, "{garbage:?}");
    }
    let errors = sim
        .state()
        .log()
        .iter()
        .filter(|e| e.error.is_some() && e.message_type.is_none())
        .count();
    assert_eq!(errors, 4);

    // A well-framed body that does not fit its type is answered 9991, and the connection stays.
    let mut pos = Pos::connect(sim.addr()).await;
    pos.send_raw(b"0008010010[]").await;
    assert_eq!(code(&pos.recv().await), "9991");
    // Requests the protocol's rules refuse too: a negative amount, and tax over the price.
    for body in [
        r#"{"priceAmt":-5,"ptxid":"P"}"#,
        r#"{"priceAmt":5,"taxAmt":6,"ptxid":"P"}"#,
    ] {
        pos.send_raw(format!("{:04}010010{body}", 6 + body.len()).as_bytes())
            .await;
        let refused = pos.recv().await;
        assert!(matches!(refused, Response::CardApproval(_)), "{refused:?}");
        assert_eq!(code(&refused), "9991", "{body}");
    }
    pos.send(approval(1_000, "CPOS-G0")).await;
    assert_eq!(code(&pos.recv().await), "0000");
}

#[tokio::test]
async fn garbage_answers_then_last_transaction() {
    let sim = simulator(Some(AutoDecision::Approve)).await;
    sim.state().update_faults(|f| f.garbage = true);
    for i in 0..3 {
        let mut pos = Pos::connect(sim.addr()).await;
        let ptxid = format!("CPOS-G{i}");
        pos.send(approval(9_000 + i, &ptxid)).await;
        let answer = pos.next(WAIT).await;
        assert!(
            matches!(answer, Some(Err(_))),
            "a protocol error, got {answer:?}"
        );

        let mut pos = Pos::connect(sim.addr()).await;
        pos.send(Request::LastTransaction).await;
        let last = pos.recv().await;
        assert_eq!(
            (code(&last), last.ptxid()),
            ("0000".to_string(), Some(ptxid.as_str()))
        );
    }
}

#[tokio::test]
async fn a_new_connection_replaces_the_old_one() {
    let sim = simulator(Some(AutoDecision::Approve)).await;
    let mut first = Pos::connect(sim.addr()).await;
    first.send(Request::LastTransaction).await;
    first.recv().await;
    let mut second = Pos::connect(sim.addr()).await;
    assert!(first.closed().await);
    second.send(approval(5_000, "CPOS-C2")).await;
    assert_eq!(code(&second.recv().await), "0000");
    assert!(sim.state().connected());
}

#[tokio::test]
async fn totals_count_approvals_and_cancels_of_the_period() {
    let sim = simulator(Some(AutoDecision::Approve)).await;
    let mut pos = Pos::connect(sim.addr()).await;
    pos.send(approval(10_000, "CPOS-L1")).await;
    let first = data(&pos.recv().await);
    pos.send(approval(25_000, "CPOS-L2")).await;
    assert_eq!(code(&pos.recv().await), "0000");
    pos.send(Request::EasyPayApproval(EasyPayApprovalRequest {
        service_code: "QRD".into(),
        price_amt: 7_000,
        tax_amt: 0,
        tip_amt: 0,
        tax_free_amt: 0,
        installment: 0,
        ptxid: "CPOS-L3".into(),
        extra: Extra::new(),
    }))
    .await;
    let easy = pos.recv().await;
    assert_eq!(data(&easy).service_code.as_deref(), Some("QRD"));
    // Cash receipts are not sales.
    pos.send(Request::CashReceiptIssue(CashReceiptRequest {
        price_amt: 3_000,
        tax_amt: 0,
        tip_amt: 0,
        tax_free_amt: 0,
        trader_type: TraderType::IncomeDeduction,
        approval_number: Some("01012345678".into()),
        ptxid: "CPOS-L4".into(),
        extra: Extra::new(),
    }))
    .await;
    let receipt = data(&pos.recv().await);
    assert_eq!(receipt.receipt_title.as_deref(), Some("소득공제"));
    assert_eq!(receipt.masked_track_data.as_deref(), Some("*******5678"));

    let cancel = |amount: i64, ptxid: &str| {
        Request::CardCancel(CancelRequest {
            approval_amt: amount,
            approval_no: first.approval_no.clone().unwrap_or_default(),
            transaction_date: first.transaction_date.clone().unwrap_or_default(),
            transaction_no: first.transaction_no.clone().unwrap_or_default(),
            ptxid: ptxid.into(),
            extra: Extra::new(),
        })
    };
    pos.send(cancel(9_000, "CPOS-L5")).await;
    assert_eq!(code(&pos.recv().await), sandbox::terminal::AMOUNT_MISMATCH);
    pos.send(cancel(10_000, "CPOS-L6")).await;
    let cancelled = pos.recv().await;
    assert!(matches!(cancelled, Response::CardCancel(_)));
    assert_eq!(
        (code(&cancelled), data(&cancelled).approval_amt),
        ("0000".to_string(), Some(10_000))
    );
    pos.send(cancel(10_000, "CPOS-L7")).await;
    assert_eq!(
        code(&pos.recv().await),
        sandbox::terminal::ALREADY_CANCELLED
    );

    let today = smartro::types::kst_naive(Utc::now())
        .format("%Y%m%d")
        .to_string();
    pos.send(Request::SalesTotals(TotalsRequest::new(
        "20000101",
        today.clone(),
    )))
    .await;
    let Response::SalesTotals(totals) = pos.recv().await else {
        panic!("not totals")
    };
    assert_eq!(totals.result_code, ResultCode::Success);
    assert_eq!(totals.period, Some(format!("20000101~{today}")));
    let t = totals.data.unwrap_or_default();
    assert_eq!(
        (t.approved.count, t.approved.price, t.approved.issuer),
        (3, 42_000, 2)
    );
    assert_eq!((t.canceled.count, t.canceled.price), (1, 10_000));

    pos.send(Request::SalesTotals(TotalsRequest::new(
        "20000101", "20000102",
    )))
    .await;
    let Response::SalesTotals(empty) = pos.recv().await else {
        panic!("not totals")
    };
    assert_eq!(empty.data.map(|d| d.approved.count), Some(0));
}

#[tokio::test]
async fn every_other_message_type_is_answered() {
    let sim = simulator(Some(AutoDecision::Approve)).await;
    let mut pos = Pos::connect(sim.addr()).await;

    pos.send(Request::CodeDownload).await;
    let Response::CodeDownload(codes) = pos.recv().await else {
        panic!("not codes")
    };
    let list = codes.data.unwrap_or_default();
    assert_eq!(list.total_count, Some(list.code_list.len() as i64));
    assert!(list.code_list.iter().any(|c| c.code == "CASH"));

    let print = PrintRequest {
        font_family: Some("Noto Sans Korean".into()),
        alert: Some(true),
        commands: vec![
            PrintCommand::bare(PrintCommandKind::Logo),
            PrintCommand::text(
                PrintCommandKind::Text2,
                10,
                vec!["합계".into(), "51,000원".into()],
            ),
            PrintCommand::bare(PrintCommandKind::CuttingLine),
        ],
        extra: Extra::new(),
    };
    pos.send(Request::Print(print)).await;
    assert_eq!(code(&pos.recv().await), "0000");
    // A print the protocol refuses (text3 with two texts), sent raw since the encoder would not send it.
    let body = r#"{"commands":[{"command":"text3","message":["a","b"]}]}"#;
    pos.send_raw(format!("{:04}900091{body}", 6 + body.len()).as_bytes())
        .await;
    assert_eq!(code(&pos.recv().await), "9991");

    pos.send(Request::TaxRefundIssue(TaxRefundIssueRequest {
        card_amount: Some(50_000),
        cash_amount: Some(0),
        etc_amount: Some(0),
        sales_serial: Some(TextOrNumber::Text("T-1".into())),
        facilitator_number: Some("0000000000".into()),
        ..TaxRefundIssueRequest::default()
    }))
    .await;
    let Response::TaxRefundIssue(issued) = pos.recv().await else {
        panic!("not a slip")
    };
    let slip = issued.data.unwrap_or_default();
    assert_eq!(
        (slip.refund_balance, slip.card_amount),
        (Some(3_500), Some(50_000))
    );
    let serial = slip.taxrefund_serial.unwrap_or_default();
    let slip_request = |serial: &str| TaxRefundSlipRequest {
        tax_refund_serial: serial.into(),
        is_print: Some(true),
        ptx_id: Some("CPOS-TR1".into()),
        extra: Extra::new(),
    };
    pos.send(Request::TaxRefundInquiry(slip_request(&serial)))
        .await;
    assert_eq!(code(&pos.recv().await), "0000");
    pos.send(Request::TaxRefundCancel(slip_request(&serial)))
        .await;
    assert_eq!(code(&pos.recv().await), "0000");
    pos.send(Request::TaxRefundCancel(slip_request(&serial)))
        .await;
    assert_eq!(
        code(&pos.recv().await),
        sandbox::terminal::ALREADY_CANCELLED
    );
    pos.send(Request::TaxRefundInquiry(slip_request("99999")))
        .await;
    assert_eq!(code(&pos.recv().await), "9991");

    // Easy-pay and cash-receipt reading cancels when nothing is read.
    pos.send(Request::ReadCancel(ReadCancelKind::CashReceipt))
        .await;
    assert!(matches!(
        pos.recv().await,
        Response::ReadCancel(ReadCancelKind::CashReceipt, _)
    ));

    // An unknown type is logged and not answered; the connection stays.
    pos.send_raw(b"0008123456{}").await;
    assert!(pos.next(Duration::from_millis(200)).await.is_none());
    pos.send(Request::ResultConfirmation).await;
    assert_eq!(code(&pos.recv().await), "0000");
    assert!(sim.state().received().contains(&Some("123456".to_string())));
}

/// `(status, JSON)` of a request to the sandbox.
async fn call(
    method: reqwest::Method,
    url: String,
    body: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut req = reqwest::Client::new()
        .request(method, url)
        .header("accept", "application/json");
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let response = match req.send().await {
        Ok(r) => r,
        Err(e) => panic!("{e}"),
    };
    let status = response.status().as_u16();
    (
        status,
        response.json().await.unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test]
async fn the_sandbox_serves_the_terminal_page_and_its_control_api() {
    let config = SandboxConfig {
        terminal: Some(TerminalConfig::for_tests()),
        ..SandboxConfig::for_tests(Duration::from_millis(50))
    };
    let sb = match Sandbox::start(config).await {
        Ok(s) => s,
        Err(e) => panic!("sandbox: {e}"),
    };
    let Some(addr) = sb.terminal_addr() else {
        panic!("no terminal")
    };
    let base = sb.url();

    let (status, faults) = call(
        reqwest::Method::GET,
        format!("{base}/terminal/faults"),
        None,
    )
    .await;
    assert_eq!((status, faults["decline"].as_bool()), (200, Some(false)));
    let (status, faults) = call(
        reqwest::Method::POST,
        format!("{base}/terminal/faults"),
        Some(r#"{"signature": true}"#),
    )
    .await;
    assert_eq!((status, faults["signature"].as_bool()), (200, Some(true)));
    for bad in [r#"{"melt": true}"#, r#"{"decline": "yes"}"#, "[]"] {
        let (status, body) = call(
            reqwest::Method::POST,
            format!("{base}/terminal/faults"),
            Some(bad),
        )
        .await;
        assert_eq!(status, 400, "{bad}");
        assert!(body["error"].is_string());
    }
    assert!(sb
        .state()
        .terminal()
        .is_some_and(|t| t.faults().signature && !t.faults().decline));

    let mut pos = Pos::connect(addr).await;
    pos.send(approval(51_000, "CPOS-W1")).await;
    let Some(terminal) = sb.state().terminal() else {
        panic!("no terminal state")
    };
    until("the card prompt", || {
        matches!(terminal.screen(), Screen::WaitingCard { .. })
    })
    .await;
    let page = reqwest::get(format!("{base}/terminal"))
        .await
        .map(|r| r.text());
    let page = match page {
        Ok(text) => text.await.unwrap_or_default(),
        Err(e) => panic!("{e}"),
    };
    assert!(
        page.contains("카드를 넣어주세요")
            && page.contains("51,000원")
            && page.contains("id=\"insert-card\"")
    );

    let (status, _) = call(reqwest::Method::POST, format!("{base}/terminal/sign"), None).await;
    assert_eq!(status, 409, "no signature awaited yet");
    let (status, _) = call(
        reqwest::Method::POST,
        format!("{base}/terminal/insert-card"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(code(&pos.recv().await), "0010");
    let (status, _) = call(reqwest::Method::POST, format!("{base}/terminal/sign"), None).await;
    assert_eq!(status, 200);
    assert_eq!(code(&pos.recv().await), "0000");

    let (status, state) = call(reqwest::Method::GET, format!("{base}/terminal/state"), None).await;
    assert_eq!(status, 200);
    assert_eq!(state["connected"], serde_json::Value::Bool(true));
    assert_eq!(state["last_transaction"]["ptxid"], "CPOS-W1");
    assert_eq!(state["ledger"][0]["amount"], 51_000);
    assert_eq!(state["screen"]["state"], "result");
    sb.shutdown().await;
}
