use serde::{Deserialize, Serialize};

/// The order statuses of the public contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum OrderStatus {
    /// Created; may carry failed attempts; the buyer may (re)try.
    Pending,
    /// A virtual account was issued; the money is not in yet.
    AwaitingDeposit,
    Paid,
    PartiallyCancelled,
    Cancelled,
    Expired,
    /// A validly signed result disagrees with the order (amount, MID, a second payment): never shown as paid.
    NeedsReview,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 7] = [
        OrderStatus::Pending,
        OrderStatus::AwaitingDeposit,
        OrderStatus::Paid,
        OrderStatus::PartiallyCancelled,
        OrderStatus::Cancelled,
        OrderStatus::Expired,
        OrderStatus::NeedsReview,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::AwaitingDeposit => "awaiting_deposit",
            OrderStatus::Paid => "paid",
            OrderStatus::PartiallyCancelled => "partially_cancelled",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Expired => "expired",
            OrderStatus::NeedsReview => "needs_review",
        }
    }

    pub fn parse(value: &str) -> Option<OrderStatus> {
        OrderStatus::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// Only a pending order may be sent to a payment window.
    pub fn is_payable(self) -> bool {
        self == OrderStatus::Pending
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum CancellationStatus {
    /// Recorded, Smartro being called.
    Requested,
    Succeeded,
    Failed,
    /// Smartro did not answer: the outcome is open until reconciled.
    Unknown,
}

impl CancellationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CancellationStatus::Requested => "requested",
            CancellationStatus::Succeeded => "succeeded",
            CancellationStatus::Failed => "failed",
            CancellationStatus::Unknown => "unknown",
        }
    }

    pub fn parse(value: &str) -> Option<CancellationStatus> {
        [
            CancellationStatus::Requested,
            CancellationStatus::Succeeded,
            CancellationStatus::Failed,
            CancellationStatus::Unknown,
        ]
        .into_iter()
        .find(|s| s.as_str() == value)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum CancellationOrigin {
    /// Asked through `POST /v1/orders/{id}/cancel`.
    Api,
    /// Learned from the provider's (Smartro's) notification only.
    Smartro,
}

impl CancellationOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            CancellationOrigin::Api => "api",
            CancellationOrigin::Smartro => "smartro",
        }
    }

    pub fn parse(value: &str) -> Option<CancellationOrigin> {
        match value {
            "api" => Some(CancellationOrigin::Api),
            "smartro" => Some(CancellationOrigin::Smartro),
            _ => None,
        }
    }
}

/// Where an order is paid: online through a provider's payment window, or at a shop's card terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Channel {
    Online,
    Terminal,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Online => "online",
            Channel::Terminal => "terminal",
        }
    }
}

/// Webhook event types of the public contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    PaymentPaid,
    PaymentFailed,
    PaymentAwaitingDeposit,
    PaymentCancelled,
    PaymentNeedsReview,
    OrderExpired,
    /// The merchant recorded a refund it made itself.
    PaymentRefunded,
    /// An operator settled a review: the order is out of `needs_review`.
    PaymentResolved,
    /// The provider issued a cash receipt for the payment.
    CashReceiptIssued,
    TerminalTransactionSucceeded,
    TerminalTransactionFailed,
    TerminalTransactionUnknown,
}

impl EventType {
    pub const ALL: [EventType; 12] = [
        EventType::PaymentPaid,
        EventType::PaymentFailed,
        EventType::PaymentAwaitingDeposit,
        EventType::PaymentCancelled,
        EventType::PaymentNeedsReview,
        EventType::OrderExpired,
        EventType::PaymentRefunded,
        EventType::PaymentResolved,
        EventType::CashReceiptIssued,
        EventType::TerminalTransactionSucceeded,
        EventType::TerminalTransactionFailed,
        EventType::TerminalTransactionUnknown,
    ];

    pub fn parse(value: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|e| e.as_str() == value)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::PaymentPaid => "payment.paid",
            EventType::PaymentFailed => "payment.failed",
            EventType::PaymentAwaitingDeposit => "payment.awaiting_deposit",
            EventType::PaymentCancelled => "payment.cancelled",
            EventType::PaymentNeedsReview => "payment.needs_review",
            EventType::OrderExpired => "order.expired",
            EventType::PaymentRefunded => "payment.refunded",
            EventType::PaymentResolved => "payment.resolved",
            EventType::CashReceiptIssued => "cash_receipt.issued",
            EventType::TerminalTransactionSucceeded => "terminal.transaction.succeeded",
            EventType::TerminalTransactionFailed => "terminal.transaction.failed",
            EventType::TerminalTransactionUnknown => "terminal.transaction.unknown",
        }
    }
}
