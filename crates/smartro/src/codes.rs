//! Smartro's code tables: result codes, card companies, banks and couriers.
//!
//! The data is a transcription of Smartro's "결제서비스 응답코드" document (Ver.1.0, 2020.06), whose text is kept
//! in this crate as `tests/data/smartro_result_codes.txt`; `tests/codes_seed.rs` parses that file and proves these
//! tables equal it row for row, in the document's order. Korean texts are the seed's cell texts, trimmed and otherwise
//! untouched — including the document's own quirks, such as the unclosed parenthesis of `4321` or the card
//! row `시티` whose issuer cell reads `씨티(11)`.

use serde::Serialize;
use CodeCategory::{
    AccountHolderLookup, BankRefund, BankTransfer, Cancel, Card, CashReceipt, Cellphone,
    EasyPayBilling, Kakao, Toss, TransferService, VirtualAccount,
};

/// The section of the result-code document a code belongs to, which is the payment method or the
/// service that answers with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeCategory {
    /// Section 1, 신용카드: credit card payment (30xx).
    Card,
    /// Section 2, 실시간 계좌이체: real-time bank transfer payment (400x).
    BankTransfer,
    /// Section 3, 가상계좌: virtual account — issuing (4100), deposit (4110) and errors (410x).
    VirtualAccount,
    /// Section 4, 휴대폰: mobile phone payment (Axxx).
    Cellphone,
    /// Section 5, 현금영수증: cash receipt (70xx, and `00CB` for an already cancelled receipt).
    CashReceipt,
    /// Section 6, 결제취소: cancellation of a payment, whole or partial (20xx).
    Cancel,
    /// Section 7, 계좌이체 결제환불: refund of a bank-transfer payment (22xx).
    BankRefund,
    /// Section 8, 계좌성명조회: account-holder name lookup (42xx).
    AccountHolderLookup,
    /// Section 9, 입금이체(환불)서비스: the deposit / refund transfer service (43xx).
    TransferService,
    /// Section 13, 토스: Toss payments (TSxx).
    Toss,
    /// Section 14, 카카오: Kakao Pay (KPxx).
    Kakao,
    /// Section 15, 신용카드 간편결제 및 빌링서비스: card easy-pay and billing — OTP (PAxx), card authentication
    /// (PSxx), card registration (PRxx), deletion of easy-pay data (PDxx).
    EasyPayBilling,
}

impl CodeCategory {
    /// Every category, in the order of the seed document.
    pub const ALL: [CodeCategory; 12] = [
        CodeCategory::Card,
        CodeCategory::BankTransfer,
        CodeCategory::VirtualAccount,
        CodeCategory::Cellphone,
        CodeCategory::CashReceipt,
        CodeCategory::Cancel,
        CodeCategory::BankRefund,
        CodeCategory::AccountHolderLookup,
        CodeCategory::TransferService,
        CodeCategory::Toss,
        CodeCategory::Kakao,
        CodeCategory::EasyPayBilling,
    ];
}

/// One result code of Smartro's answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ResultCode {
    pub code: &'static str,
    /// Smartro's message, exactly as in the seed.
    pub message: &'static str,
    pub category: CodeCategory,
    /// Whether the code reports that the requested operation succeeded. The seed has no such column: it
    /// is true for every message saying 성공, and for `PA00` (OTP 정상발급), `4314` (이체(환불)완료) and
    /// `4315` (이체(입금)완료). It is false for [`ALREADY_CANCELLED`], although a caller may choose to treat
    /// that one as a success.
    pub success: bool,
}

/// `2013` 취소 완료 거래임(기취소): the transaction was already cancelled. The seed's note allows a merchant
/// to treat this answer as a normal cancellation, so a repeated cancel can be made idempotent with it.
pub const ALREADY_CANCELLED: &str = "2013";

/// One row of the card company table (10. 카드사 코드).
///
/// The seed writes issuer and acquirer as `name(code)`; both parts are kept. For the last rows
/// (SK-OKCashBag, UnionPay, DISCOVER, WeChat) the issuer cell is a bare code, so `issuer_name` is `None`,
/// and blank acquirer or auth-method cells are `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CardCompany {
    /// The card column (카드).
    pub name: &'static str,
    /// The issuer's name as written in the issuer column (발급사), which may differ from `name`.
    pub issuer_name: Option<&'static str>,
    /// The two-digit issuer code.
    pub issuer_code: &'static str,
    /// The acquirer's name (매입사).
    pub acquirer_name: Option<&'static str>,
    /// The two-digit acquirer code; it is in the same code space as `issuer_code`.
    pub acquirer_code: Option<&'static str>,
    /// The authentication method (인증방식), as written in the seed.
    pub auth_method: Option<&'static str>,
}

/// One row of the bank table (11. 은행코드).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Bank {
    pub code: &'static str,
    pub name: &'static str,
}

/// One row of the courier table (12. 택배사 코드표).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Courier {
    pub code: &'static str,
    pub name: &'static str,
}

impl Bank {
    const fn new(code: &'static str, name: &'static str) -> Self {
        Bank { code, name }
    }
}

impl Courier {
    const fn new(code: &'static str, name: &'static str) -> Self {
        Courier { code, name }
    }
}

/// The first result code equal to `code`, in the seed's order. No code of the seed appears in two
/// sections; [`result_codes`] gives every match should a later revision add one.
pub fn result_code(code: &str) -> Option<&'static ResultCode> {
    result_codes(code).next()
}

/// Every result code equal to `code`, in the seed's order.
pub fn result_codes(code: &str) -> impl Iterator<Item = &'static ResultCode> + '_ {
    RESULT_CODES.iter().filter(move |row| row.code == code)
}

/// The result codes of one category, in the seed's order.
pub fn result_codes_in(category: CodeCategory) -> impl Iterator<Item = &'static ResultCode> {
    RESULT_CODES
        .iter()
        .filter(move |row| row.category == category)
}

/// The card company with this issuer code.
pub fn card_by_issuer(code: &str) -> Option<&'static CardCompany> {
    CARD_COMPANIES.iter().find(|card| card.issuer_code == code)
}

/// The card company that acquires under this code. Many cards share an acquirer (most are acquired by
/// 비씨 `01`); the first row with the code is the acquiring company's own row, so that is the one returned.
/// [`cards_by_acquirer`] lists every card acquired under the code.
pub fn card_by_acquirer(code: &str) -> Option<&'static CardCompany> {
    cards_by_acquirer(code).next()
}

/// Every card company whose acquirer code is `code`, in the seed's order.
pub fn cards_by_acquirer(code: &str) -> impl Iterator<Item = &'static CardCompany> + '_ {
    CARD_COMPANIES
        .iter()
        .filter(move |card| card.acquirer_code == Some(code))
}

/// The bank with this three-character code (e.g. `"004"`).
pub fn bank(code: &str) -> Option<&'static Bank> {
    BANKS.iter().find(|bank| bank.code == code)
}

/// The courier with this two-digit code.
pub fn courier(code: &str) -> Option<&'static Courier> {
    COURIERS.iter().find(|courier| courier.code == code)
}

const fn ok(code: &'static str, message: &'static str, category: CodeCategory) -> ResultCode {
    ResultCode {
        code,
        message,
        category,
        success: true,
    }
}

const fn fail(code: &'static str, message: &'static str, category: CodeCategory) -> ResultCode {
    ResultCode {
        code,
        message,
        category,
        success: false,
    }
}

/// The 178 result codes of the seed, section by section in the seed's order (sections 1–9, 13–15).
pub static RESULT_CODES: &[ResultCode] = &[
    // 1. 신용카드
    ok("3001", "카드 결제 성공", Card),
    fail("3002", "VAN 실패 응답", Card),
    fail("3011", "카드번호 오류", Card),
    fail("3012", "카드가맹점 정보 미확인", Card),
    fail("3013", "카드 가맹점 개시 안됨", Card),
    fail("3014", "카드가맹점 정보 오류", Card),
    fail("3021", "유효기간 오류", Card),
    fail("3022", "할부개월오류", Card),
    fail("3023", "할부개월 한도 초과", Card),
    fail("3031", "무이자할부 카드 아님", Card),
    fail("3032", "무이자할부 불가 개월수", Card),
    fail("3033", "무이자할부 가맹점 아님", Card),
    fail("3034", "무이자할부 구분 미설정", Card),
    fail("3041", "금액 오류(1000 원 미만 신용카드 승인 불가)", Card),
    fail("3051", "해외카드 미등록 가맹점", Card),
    fail("3052", "통화코드 오류", Card),
    fail("3053", "확인 불가 해외카드", Card),
    fail("3054", "환률전환오류", Card),
    fail("3055", "인증시 달러승인 불가", Card),
    fail("3056", "국내카드 달러승인불가", Card),
    fail("3057", "인증 불가카드", Card),
    fail("3061", "국민카드 인터넷안전결제 적용 가맹점", Card),
    fail("3062", "신용카드 승인번호 오류", Card),
    fail("3071", "매입요청 가맹점 아님", Card),
    fail("3072", "매입요청 TID 정보 불일치", Card),
    fail("3073", "기매입 거래", Card),
    fail("3081", "카드 잔액 값 오류", Card),
    fail("3091", "제휴카드 사용불가 가맹점", Card),
    fail("3095", "카드사 실패 응답", Card),
    // 2. 실시간 계좌이체
    ok("4000", "실시간계좌이체 결제 성공", BankTransfer),
    fail("4001", "금결원 오류 응답", BankTransfer),
    fail("4002", "회원사 서비스 불가 은행", BankTransfer),
    fail("4003", "출금일자 불일치", BankTransfer),
    fail("4004", "출금요청금액 불일치", BankTransfer),
    fail("4005", "거래번호(TID) 불일치", BankTransfer),
    fail("4006", "회신 정보 불일치", BankTransfer),
    fail("4007", "실시간계좌이체 승인번호 오류", BankTransfer),
    fail("4008", "은행 시스템 서비스 중단", BankTransfer),
    // 3. 가상계좌
    ok("4100", "가상계좌발급성공", VirtualAccount),
    ok("4110", "가상계좌입금성공", VirtualAccount),
    fail("4101", "가상계좌최대거래금액초과", VirtualAccount),
    fail("4102", "가상계좌입금예정일오류", VirtualAccount),
    fail("4103", "가상계좌 입금예정시간 오류", VirtualAccount),
    fail("4104", "가상계좌 정보 오류", VirtualAccount),
    // 4. 휴대폰
    ok("A000", "휴대폰 결제 처리 성공", Cellphone),
    ok("A100", "SMS 인증 요청 성공", Cellphone),
    fail("A001", "휴대폰 결제 처리 실패", Cellphone),
    fail("A101", "휴대폰 결제 통신 실패", Cellphone),
    fail("A002", "필수입력값(거래키) 누락", Cellphone),
    fail("A003", "필수입력값(이통사 구분) 누락", Cellphone),
    fail("A004", "필수입력값(SMS 승인번호) 누락", Cellphone),
    fail("A005", "필수입력값(업체 TID)누락", Cellphone),
    fail("A006", "필수입력값(휴대폰번호)누락", Cellphone),
    fail("A007", "필수입력값(상품구분코드)누락", Cellphone),
    fail("A041", "결제금액 오류", Cellphone),
    fail("A564", "휴대폰결제 ID 설정 오류", Cellphone),
    fail("A565", "휴대폰결제 ID 미설정 오류", Cellphone),
    fail("A566", "휴대폰 결제사 설정 오류", Cellphone),
    fail("A567", "상점구분코드 설정 오류", Cellphone),
    fail("A568", "서비스 구분코드 설정 오류", Cellphone),
    // 5. 현금영수증
    ok("7001", "현금영수증 처리성공", CashReceipt),
    fail("7002", "현금영수증 종류오류", CashReceipt),
    fail("7003", "현금영수증 중복발급", CashReceipt),
    fail("7004", "현금영수증 취소오류", CashReceipt),
    fail("7005", "현금영수증 부가가치세 오류", CashReceipt),
    fail("7006", "현금영수증 최대개수 초과", CashReceipt),
    fail("7007", "현금영수증 요청갯수 입력오류", CashReceipt),
    fail("7010", "VAN 응답실패", CashReceipt),
    fail("7011", "현금영수증 미발행 요청입니다.", CashReceipt),
    fail("7012", "현금영수증 발급불가 가맹점", CashReceipt),
    fail("00CB", "기취소 거래", CashReceipt),
    // 6. 결제취소
    ok("2001", "취소 성공", Cancel),
    fail("2002", "취소 실패", Cancel),
    fail("2003", "취소 실패", Cancel),
    fail("2010", "취소 요청금액 0 원 이하", Cancel),
    fail("2011", "취소 금액 불일치", Cancel),
    fail("2012", "취소 해당거래 없음", Cancel),
    fail("2014", "취소 불가능 거래", Cancel),
    fail("2015", "해당거래 취소실패", Cancel),
    fail("2016", "취소 기한 초과", Cancel),
    fail("2017", "취소 불가 회원사", Cancel),
    fail("2018", "신용카드 매입후 취소 불가능 가맹점", Cancel),
    fail("2019", "타 회원사 거래 취소 불가", Cancel),
    fail("2021", "매입전취소 불가", Cancel),
    fail("2022", "매입후취소 불가", Cancel),
    fail("2023", "취소 한도 초과", Cancel),
    fail("2024", "취소패스워드 불일치", Cancel),
    fail("2025", "취소패스워드 미 입력", Cancel),
    fail("2026", "입금액보다 취소금액이 큼.", Cancel),
    fail("2013", "취소 완료 거래임(기취소)", Cancel),
    fail(
        "2027",
        "에스크로 거래는 구매 또는 구매거절 시 취소가능.",
        Cancel,
    ),
    fail("2028", "부분취소 불가능 가맹점", Cancel),
    fail("2029", "부분취소 불가능 결제수단.", Cancel),
    fail("2030", "해당거래 부분취소 불가.", Cancel),
    fail("2031", "전체금액취소 불가.", Cancel),
    fail("2032", "취소금액이 취소가능금액보다 큼.", Cancel),
    fail("2033", "부분취소 불가능금액. 전체취소 이용바람.", Cancel),
    fail("2034", "세이브결제 부분취소 불가.", Cancel),
    fail("2035", "입금완료전 전취소 불가.", Cancel),
    fail("2036", "입금완료전 부분취소 불가", Cancel),
    fail("2037", "승인결제수단과 취소결제수단 다름", Cancel),
    fail("2038", "해당거래 부분취소 불가능. 매입완료 후 가능", Cancel),
    fail("2039", "취소패스워드 미설정", Cancel),
    fail("2040", "부분취소 불가 서비스", Cancel),
    fail("2041", "원거래 승인데이터와 상이함", Cancel),
    // 7. 계좌이체 결제환불
    ok("2211", "환불 요청 성공", BankRefund),
    fail("2212", "환불 요청 실패", BankRefund),
    fail("2213", "환불 기한 초과", BankRefund),
    fail("2214", "환불 불가 회원사", BankRefund),
    fail("2215", "환불 해당거래 없음", BankRefund),
    fail("2216", "환불 불가능 거래", BankRefund),
    fail("2217", "환불 요청금액 0 원 이하", BankRefund),
    fail("2218", "환불 금액 불일치", BankRefund),
    fail("2219", "환불 완료 거래", BankRefund),
    fail("2220", "환불 불가 가상계좌", BankRefund),
    // 8. 계좌성명조회
    ok("4200", "계좌성명조회 성공", AccountHolderLookup),
    fail("4201", "계좌성명조회 실패", AccountHolderLookup),
    fail("4202", "계좌정보 오류", AccountHolderLookup),
    fail("4204", "예금주성명 불일치", AccountHolderLookup),
    fail("4242", "연동업체코드 미설정", AccountHolderLookup),
    // 9. 입금이체(환불)서비스
    ok("4300", "입금등록성공", TransferService),
    ok("4301", "취소등록성공", TransferService),
    ok("4311", "환불등록성공", TransferService),
    fail("4313", "이체(환불,입금)등록실패", TransferService),
    ok("4314", "이체(환불)완료", TransferService),
    ok("4315", "이체(입금)완료", TransferService),
    fail("4316", "이체요청 금액 0 원 이하", TransferService),
    fail("4317", "원거래승인금액보다 환불금액이 큼", TransferService),
    fail("4318", "환불금액이 환불가능금액보다 큼", TransferService),
    fail("4319", "이체 수수료 미등록", TransferService),
    fail("4320", "이체등록취소 불가(원거래 없음)", TransferService),
    fail("4321", "이체등록취소 불가(이체 진행중.", TransferService),
    // 13. 토스
    ok("TS10", "결제승인 성공", Toss),
    fail("TS11", "결제승인 실패", Toss),
    fail("TS12", "인증 TID 누락", Toss),
    fail("TS13", "토스 승인요청금액오류(0 원)", Toss),
    ok("TS20", "결제환불 성공", Toss),
    fail("TS21", "토스 결제환불 실패", Toss),
    fail("TS22", "토스 부분취소 불가 금액", Toss),
    fail("TS80", "CPID 설정오류", Toss),
    fail("TS81", "CPID 미설정오류", Toss),
    fail("TS90", "TOSS 전문 송수신 실패", Toss),
    fail("TS91", "TOSS 통신 실패", Toss),
    // 14. 카카오
    ok("KP00", "카카오페이 결제 성공", Kakao),
    fail("KP01", "카카오페이 결제 실패", Kakao),
    fail("KP11", "정의되지 않은 서비스타입", Kakao),
    fail("KP12", "카카오페이 인증 실패", Kakao),
    // 15. 신용카드 간편결제 및 빌링서비스
    ok("PA00", "OTP 정상발급", EasyPayBilling),
    fail("PA01", "결제 정보 불일치", EasyPayBilling),
    fail("PA50", "발급정보없음", EasyPayBilling),
    fail("PA60", "OTP 사용시간만료", EasyPayBilling),
    fail("PA61", "OTP 발급정보없음", EasyPayBilling),
    fail("PA62", "승인처리중 OTP", EasyPayBilling),
    fail("PA63", "사용된 OTP", EasyPayBilling),
    fail("PA64", "인증금액불일치", EasyPayBilling),
    fail("PA99", "OTP 발급기타오류", EasyPayBilling),
    ok("PS00", "카드인증성공", EasyPayBilling),
    fail("PS01", "실패미등록카드", EasyPayBilling),
    fail("PS03", "실패정지카드", EasyPayBilling),
    fail("PS04", "실패해지카드", EasyPayBilling),
    ok("PS40", "인증삭제성공", EasyPayBilling),
    fail("PS41", "인증삭제실패", EasyPayBilling),
    fail("PS50", "인증정보없음", EasyPayBilling),
    fail("PS51", "비씨카드통신오류", EasyPayBilling),
    fail("PS52", "TRID 정보없음", EasyPayBilling),
    fail("PS99", "인증발급기타오류", EasyPayBilling),
    fail("PR01", "멤버 정보 미존재", EasyPayBilling),
    fail("PR02", "정의되지 않은 서비스 코드", EasyPayBilling),
    fail("PR03", "결제용 토큰빌키 생성 실패", EasyPayBilling),
    fail("PR04", "존재하지 않는 거래형태", EasyPayBilling),
    fail("PR05", "올바르지 않은 멤버 정보", EasyPayBilling),
    fail("PR06", "개인/법인 구분 값 상이", EasyPayBilling),
    fail("PR07", "다중 카드 등록 불가", EasyPayBilling),
    fail("PR08", "이미 등록된 카드 정보 조회 실패", EasyPayBilling),
    fail("PR10", "이미 등록된 카드 등록 불가", EasyPayBilling),
    fail("PR99", "카드 등록 중 처리 오류", EasyPayBilling),
    ok("PD00", "간편결제정보삭제성공", EasyPayBilling),
    fail("PD01", "간편결제정보삭제실패", EasyPayBilling),
];

/// The 39 rows of the card company table, in the seed's order.
pub static CARD_COMPANIES: &[CardCompany] = &[
    CardCompany {
        name: "비씨",
        issuer_name: Some("비씨"),
        issuer_code: "01",
        acquirer_name: Some("비씨"),
        acquirer_code: Some("01"),
        auth_method: Some("ISP"),
    },
    CardCompany {
        name: "국민",
        issuer_name: Some("국민"),
        issuer_code: "02",
        acquirer_name: Some("국민"),
        acquirer_code: Some("02"),
        auth_method: Some("ISP"),
    },
    CardCompany {
        name: "하나(구외환)",
        issuer_name: Some("하나(구외환)"),
        issuer_code: "03",
        acquirer_name: Some("하나(구외환)"),
        acquirer_code: Some("03"),
        auth_method: Some("ILK 안심클릭"),
    },
    CardCompany {
        name: "삼성",
        issuer_name: Some("삼성"),
        issuer_code: "04",
        acquirer_name: Some("삼성"),
        acquirer_code: Some("04"),
        auth_method: Some("Polaris 안심클릭"),
    },
    CardCompany {
        name: "신한",
        issuer_name: Some("신한"),
        issuer_code: "06",
        acquirer_name: Some("신한"),
        acquirer_code: Some("06"),
        auth_method: Some("Polaris 안심클릭"),
    },
    CardCompany {
        name: "현대",
        issuer_name: Some("현대"),
        issuer_code: "07",
        acquirer_name: Some("현대"),
        acquirer_code: Some("07"),
        auth_method: Some("Polaris 안심클릭"),
    },
    CardCompany {
        name: "롯데",
        issuer_name: Some("롯데"),
        issuer_code: "08",
        acquirer_name: Some("롯데"),
        acquirer_code: Some("08"),
        auth_method: Some("ILK 안심클릭 또는 로코모"),
    },
    CardCompany {
        name: "시티",
        issuer_name: Some("씨티"),
        issuer_code: "11",
        acquirer_name: Some("비씨"),
        acquirer_code: Some("01"),
        auth_method: Some("ILK 안심클릭"),
    },
    CardCompany {
        name: "농협",
        issuer_name: Some("농협"),
        issuer_code: "12",
        acquirer_name: Some("농협"),
        acquirer_code: Some("12"),
        auth_method: Some("Polaris 안심클릭"),
    },
    CardCompany {
        name: "수협",
        issuer_name: Some("수협"),
        issuer_code: "13",
        acquirer_name: Some("비씨"),
        acquirer_code: Some("01"),
        auth_method: Some("ISP"),
    },
    CardCompany {
        name: "신협",
        issuer_name: Some("신협"),
        issuer_code: "14",
        acquirer_name: Some("비씨"),
        acquirer_code: Some("01"),
        auth_method: Some("ISP"),
    },
    CardCompany {
        name: "우리",
        issuer_name: Some("우리"),
        issuer_code: "15",
        acquirer_name: Some("비씨"),
        acquirer_code: Some("01"),
        auth_method: Some("ISP"),
    },
    CardCompany {
        name: "하나",
        issuer_name: Some("하나카드"),
        issuer_code: "16",
        acquirer_name: Some("하나카드"),
        acquirer_code: Some("16"),
        auth_method: Some("ILK 안심클릭"),
    },
    CardCompany {
        name: "광주",
        issuer_name: Some("광주"),
        issuer_code: "21",
        acquirer_name: Some("비씨"),
        acquirer_code: Some("01"),
        auth_method: Some("ISP"),
    },
    CardCompany {
        name: "전북",
        issuer_name: Some("전북"),
        issuer_code: "22",
        acquirer_name: Some("비씨"),
        acquirer_code: Some("01"),
        auth_method: Some("ISP"),
    },
    CardCompany {
        name: "제주",
        issuer_name: Some("제주"),
        issuer_code: "23",
        acquirer_name: Some("비씨"),
        acquirer_code: Some("01"),
        auth_method: Some("ISP"),
    },
    CardCompany {
        name: "산은캐피탈",
        issuer_name: Some("산은캐피탈"),
        issuer_code: "24",
        acquirer_name: Some("비씨"),
        acquirer_code: Some("01"),
        auth_method: Some("ISP"),
    },
    CardCompany {
        name: "우체국체크",
        issuer_name: Some("우체국"),
        issuer_code: "32",
        acquirer_name: Some("비씨"),
        acquirer_code: Some("01"),
        auth_method: Some("ISP"),
    },
    CardCompany {
        name: "새마을금고",
        issuer_name: Some("새마을금고"),
        issuer_code: "33",
        acquirer_name: Some("비씨"),
        acquirer_code: Some("01"),
        auth_method: Some("ISP"),
    },
    CardCompany {
        name: "KDB 산업은행",
        issuer_name: Some("KDB 산업은행"),
        issuer_code: "34",
        acquirer_name: Some("비씨"),
        acquirer_code: Some("01"),
        auth_method: Some("ISP"),
    },
    CardCompany {
        name: "카카오",
        issuer_name: Some("카카오"),
        issuer_code: "37",
        acquirer_name: Some("국민"),
        acquirer_code: Some("02"),
        auth_method: Some("ISP"),
    },
    CardCompany {
        name: "교보증권체크",
        issuer_name: Some("교보증권체크"),
        issuer_code: "38",
        acquirer_name: Some("비씨"),
        acquirer_code: Some("01"),
        auth_method: Some("ISP"),
    },
    CardCompany {
        name: "유진투자증권체크",
        issuer_name: Some("유진투자증권체크"),
        issuer_code: "39",
        acquirer_name: Some("비씨"),
        acquirer_code: Some("01"),
        auth_method: Some("ISP"),
    },
    CardCompany {
        name: "KB 증권체크",
        issuer_name: Some("KB 증권체크"),
        issuer_code: "40",
        acquirer_name: Some("비씨"),
        acquirer_code: Some("01"),
        auth_method: Some("ISP"),
    },
    CardCompany {
        name: "IBK",
        issuer_name: Some("IBK"),
        issuer_code: "41",
        acquirer_name: Some("비씨"),
        acquirer_code: Some("01"),
        auth_method: Some("ISP"),
    },
    CardCompany {
        name: "저축은행",
        issuer_name: Some("저축은행"),
        issuer_code: "42",
        acquirer_name: Some("비씨"),
        acquirer_code: Some("01"),
        auth_method: Some("ISP"),
    },
    CardCompany {
        name: "K BANK",
        issuer_name: Some("K BANK"),
        issuer_code: "43",
        acquirer_name: Some("비씨"),
        acquirer_code: Some("01"),
        auth_method: Some("ISP"),
    },
    CardCompany {
        name: "SK 증권체크",
        issuer_name: Some("SK 증권체크"),
        issuer_code: "44",
        acquirer_name: Some("비씨"),
        acquirer_code: Some("01"),
        auth_method: Some("ISP"),
    },
    CardCompany {
        name: "NH 투자증권체크",
        issuer_name: Some("NH 투자증권체크"),
        issuer_code: "45",
        acquirer_name: Some("비씨"),
        acquirer_code: Some("01"),
        auth_method: Some("ISP"),
    },
    CardCompany {
        name: "VISA",
        issuer_name: Some("VISA"),
        issuer_code: "25",
        acquirer_name: Some("하나(구외환)"),
        acquirer_code: Some("03"),
        auth_method: Some("VISA3D"),
    },
    CardCompany {
        name: "MASTER",
        issuer_name: Some("MASTER"),
        issuer_code: "26",
        acquirer_name: Some("하나(구외환)"),
        acquirer_code: Some("03"),
        auth_method: Some("VISA3D"),
    },
    CardCompany {
        name: "DINERS",
        issuer_name: Some("DINERS"),
        issuer_code: "27",
        acquirer_name: Some("현대"),
        acquirer_code: Some("07"),
        auth_method: Some("VISA3D"),
    },
    CardCompany {
        name: "AMX",
        issuer_name: Some("AMX"),
        issuer_code: "28",
        acquirer_name: Some("삼성"),
        acquirer_code: Some("04"),
        auth_method: Some("VISA3D"),
    },
    CardCompany {
        name: "JCB",
        issuer_name: Some("JCB"),
        issuer_code: "29",
        acquirer_name: Some("하나(구외환)"),
        acquirer_code: Some("03"),
        auth_method: Some("VISA3D"),
    },
    CardCompany {
        name: "SK-OKCashBag",
        issuer_name: None,
        issuer_code: "31",
        acquirer_name: None,
        acquirer_code: None,
        auth_method: None,
    },
    CardCompany {
        name: "UnionPay",
        issuer_name: None,
        issuer_code: "35",
        acquirer_name: Some("비씨"),
        acquirer_code: Some("01"),
        auth_method: None,
    },
    CardCompany {
        name: "DISCOVER",
        issuer_name: None,
        issuer_code: "36",
        acquirer_name: None,
        acquirer_code: None,
        auth_method: Some("VISA3D"),
    },
    CardCompany {
        name: "WeChat",
        issuer_name: None,
        issuer_code: "72",
        acquirer_name: None,
        acquirer_code: None,
        auth_method: None,
    },
    CardCompany {
        name: "카카오페이비씨",
        issuer_name: Some("카카오페이"),
        issuer_code: "46",
        acquirer_name: Some("비씨"),
        acquirer_code: Some("01"),
        auth_method: Some("ISP"),
    },
];

/// The 67 rows of the bank table, in the seed's order.
pub static BANKS: &[Bank] = &[
    Bank::new("001", "한국은행"),
    Bank::new("002", "산업은행"),
    Bank::new("003", "기업은행"),
    Bank::new("004", "국민은행"),
    Bank::new("005", "외환은행"),
    Bank::new("007", "수협중앙회"),
    Bank::new("008", "수출입은행"),
    Bank::new("011", "농협중앙회"),
    Bank::new("012", "농협회원조합"),
    Bank::new("020", "우리은행"),
    Bank::new("023", "SC 제일은행"),
    Bank::new("027", "한국시티은행"),
    Bank::new("031", "대구은행"),
    Bank::new("032", "부산은행"),
    Bank::new("034", "광주은행"),
    Bank::new("035", "제주은행"),
    Bank::new("037", "전북은행"),
    Bank::new("039", "경남은행"),
    Bank::new("045", "새마을금고연합회"),
    Bank::new("048", "신협중앙회"),
    Bank::new("050", "상호저축은행"),
    Bank::new("081", "하나은행"),
    Bank::new("088", "신한은행"),
    Bank::new("051", "중국은행"),
    Bank::new("052", "모건스텐리은행"),
    Bank::new("054", "HSBC 은행"),
    Bank::new("055", "도이치은행"),
    Bank::new("056", "에이비엔암로은행"),
    Bank::new("057", "제이피모간체이스은행"),
    Bank::new("058", "미즈호코퍼레이트은행"),
    Bank::new("059", "미쓰비시도쿄 UFJ 은행"),
    Bank::new("060", "BOA"),
    Bank::new("071", "정보통신부 우체국"),
    Bank::new("076", "신용보증기금"),
    Bank::new("077", "기술신용보증기금"),
    Bank::new("093", "한국주택금융공사"),
    Bank::new("094", "서울보증보험"),
    Bank::new("095", "경찰청"),
    Bank::new("099", "금융결제원"),
    Bank::new("209", "동양종합금융증권(유안타)"),
    Bank::new("218", "현대증권"),
    Bank::new("230", "미래에셋증권"),
    Bank::new("238", "대우증권"),
    Bank::new("240", "삼성증권"),
    Bank::new("243", "한국투자증권"),
    Bank::new("247", "우리투자증권"),
    Bank::new("261", "교보증권"),
    Bank::new("262", "하이투자증권"),
    Bank::new("263", "에이치엠씨투자증권"),
    Bank::new("264", "키움증권"),
    Bank::new("265", "이트레이드증권"),
    Bank::new("266", "에스케이증권"),
    Bank::new("267", "대신증권"),
    Bank::new("268", "솔로몬투자증권"),
    Bank::new("269", "한화증권"),
    Bank::new("270", "하나대투증권"),
    Bank::new("278", "굿모닝 신한증권"),
    Bank::new("279", "동부증권"),
    Bank::new("280", "유진투자증권"),
    Bank::new("287", "메리츠증권"),
    Bank::new("289", "엔에이치투자증권"),
    Bank::new("290", "부국증권"),
    Bank::new("291", "신영증권"),
    Bank::new("292", "엘아이지투자증권"),
    Bank::new("J01", "미쓰이스미모토"),
    Bank::new("089", "K BANK"),
    Bank::new("090", "카카오뱅크"),
];

/// The 36 rows of the courier table, in the seed's order.
pub static COURIERS: &[Courier] = &[
    Courier::new("01", "CJ 대한통운"),
    Courier::new("02", "엘로우캡"),
    Courier::new("03", "로젠택배"),
    Courier::new("04", "KG 로지스"),
    Courier::new("05", "우체국택배"),
    Courier::new("06", "한진택배"),
    Courier::new("07", "롯데택배"),
    Courier::new("08", "KGB 택배"),
    Courier::new("09", "GTX 로직스"),
    Courier::new("10", "대신택배"),
    Courier::new("11", "일양로지스"),
    Courier::new("12", "경동택배"),
    Courier::new("13", "합동택배"),
    Courier::new("14", "천일택배"),
    Courier::new("15", "편의점택배"),
    Courier::new("16", "FEDEX"),
    Courier::new("17", "UPS"),
    Courier::new("18", "TNT"),
    Courier::new("19", "GSM NtoN"),
    Courier::new("20", "성원글로벌"),
    Courier::new("21", "범한판토스"),
    Courier::new("22", "ACI Express"),
    Courier::new("23", "대운글로벌"),
    Courier::new("24", "CJ 대한통운국제특송"),
    Courier::new("25", "USPS"),
    Courier::new("26", "i-percel"),
    Courier::new("27", "AIR BOY Express"),
    Courier::new("28", "EMS"),
    Courier::new("29", "한덱스"),
    Courier::new("30", "DHL"),
    Courier::new("31", "KGL 네트웍트"),
    Courier::new("32", "굿투럭"),
    Courier::new("33", "건영택배"),
    Courier::new("34", "SLX 택배"),
    Courier::new("35", "SF-Express"),
    Courier::new("36", "한서호남택배"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn lookups_find_known_rows() {
        let card = result_code("3001").map(|row| (row.message, row.category, row.success));
        assert_eq!(card, Some(("카드 결제 성공", Card, true)));
        let vbank = result_code("4110").map(|row| (row.message, row.category, row.success));
        assert_eq!(vbank, Some(("가상계좌입금성공", VirtualAccount, true)));
        let receipt = result_code("00CB").map(|row| (row.category, row.success));
        assert_eq!(receipt, Some((CashReceipt, false)));
        assert_eq!(
            result_code(ALREADY_CANCELLED).map(|row| row.message),
            Some("취소 완료 거래임(기취소)")
        );
        assert_eq!(result_codes("2002").count(), 1);
        assert_eq!(
            result_codes_in(Kakao)
                .map(|row| row.code)
                .collect::<Vec<_>>(),
            ["KP00", "KP01", "KP11", "KP12"]
        );

        let hana = card_by_issuer("03");
        assert_eq!(
            hana.map(|card| (card.issuer_name, card.auth_method)),
            Some((Some("하나(구외환)"), Some("ILK 안심클릭")))
        );
        let unionpay = card_by_issuer("35");
        assert_eq!(
            unionpay.map(|card| (
                card.name,
                card.issuer_name,
                card.acquirer_code,
                card.auth_method
            )),
            Some(("UnionPay", None, Some("01"), None))
        );
        assert_eq!(card_by_acquirer("01").map(|card| card.name), Some("비씨"));
        assert_eq!(card_by_acquirer("07").map(|card| card.name), Some("현대"));
        assert_eq!(
            cards_by_acquirer("04")
                .map(|card| card.name)
                .collect::<Vec<_>>(),
            ["삼성", "AMX"]
        );

        assert_eq!(bank("004").map(|bank| bank.name), Some("국민은행"));
        assert_eq!(bank("J01").map(|bank| bank.name), Some("미쓰이스미모토"));
        assert_eq!(
            courier("01").map(|courier| courier.name),
            Some("CJ 대한통운")
        );
    }

    #[test]
    fn lookups_reject_unknown_and_inexact_codes() {
        for code in ["", "9999", " 3001", "3001 ", "ts10", "4"] {
            assert!(result_code(code).is_none(), "{code:?}");
        }
        assert!(card_by_issuer("05").is_none());
        assert!(card_by_issuer("").is_none());
        assert!(card_by_acquirer("11").is_none());
        assert!(bank("4").is_none());
        assert!(bank("").is_none());
        assert!(courier("37").is_none());
        assert!(courier("1").is_none());
    }

    #[test]
    fn every_category_is_used_and_codes_are_unique_within_it() {
        for category in CodeCategory::ALL {
            let codes: Vec<_> = result_codes_in(category).map(|row| row.code).collect();
            assert!(!codes.is_empty(), "{category:?} has no codes");
            let unique: HashSet<_> = codes.iter().collect();
            assert_eq!(unique.len(), codes.len(), "{category:?} repeats a code");
        }
        let listed: HashSet<_> = CodeCategory::ALL.into_iter().collect();
        assert!(RESULT_CODES
            .iter()
            .all(|row| listed.contains(&row.category)));
    }

    #[test]
    fn reference_tables_have_unique_keys() {
        let issuers: HashSet<_> = CARD_COMPANIES.iter().map(|card| card.issuer_code).collect();
        assert_eq!(issuers.len(), CARD_COMPANIES.len());
        let banks: HashSet<_> = BANKS.iter().map(|bank| bank.code).collect();
        assert_eq!(banks.len(), BANKS.len());
        let couriers: HashSet<_> = COURIERS.iter().map(|courier| courier.code).collect();
        assert_eq!(couriers.len(), COURIERS.len());
    }

    #[test]
    fn every_acquirer_is_itself_a_listed_issuer() {
        for card in CARD_COMPANIES {
            if let Some(code) = card.acquirer_code {
                let acquirer = card_by_issuer(code);
                assert!(
                    acquirer.is_some(),
                    "{} acquired by unknown {code}",
                    card.name
                );
                assert_eq!(
                    acquirer.map(|row| row.issuer_name),
                    Some(card.acquirer_name),
                    "{}",
                    card.name
                );
                assert_eq!(
                    card_by_acquirer(code).map(|row| row.issuer_code),
                    Some(code)
                );
            }
        }
    }

    #[test]
    fn success_follows_the_messages() {
        // Codes that report a success without the word 성공.
        let also_successful = ["PA00", "4314", "4315"];
        for row in RESULT_CODES {
            let expected = row.message.contains("성공") || also_successful.contains(&row.code);
            assert_eq!(row.success, expected, "{} {}", row.code, row.message);
        }
        let first_of_each: Vec<_> = CodeCategory::ALL
            .into_iter()
            .filter_map(|category| result_codes_in(category).next())
            .map(|row| (row.code, row.success))
            .collect();
        assert!(
            first_of_each.iter().all(|(_, success)| *success),
            "{first_of_each:?}"
        );
    }

    #[test]
    fn serializes_for_the_codes_endpoint() {
        let row = result_code("4200")
            .map(serde_json::to_value)
            .and_then(Result::ok);
        let expected = serde_json::json!({
            "code": "4200",
            "message": "계좌성명조회 성공",
            "category": "account_holder_lookup",
            "success": true,
        });
        assert_eq!(row, Some(expected));
        let card = card_by_issuer("31")
            .map(serde_json::to_value)
            .and_then(Result::ok);
        let expected = serde_json::json!({
            "name": "SK-OKCashBag",
            "issuer_name": null,
            "issuer_code": "31",
            "acquirer_name": null,
            "acquirer_code": null,
            "auth_method": null,
        });
        assert_eq!(card, Some(expected));
    }
}
