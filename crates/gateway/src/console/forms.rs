//! The console's forms, parsed at the edge: the posted fields, then one typed value per action. A field that
//! does not parse is a problem naming it (shown to the operator in Korean and English), never a panic.

use serde::Serialize;

use crate::domain::ResolveAction;
use crate::service::problem::ApiError;
use crate::service::refunds::RefundBody;

/// The fields of an `application/x-www-form-urlencoded` body; the first of a repeated name counts.
pub struct FormFields(Vec<(String, String)>);

impl FormFields {
    pub fn parse(body: &[u8]) -> FormFields {
        FormFields(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A text field, trimmed; absent or blank is `None`. NUL is refused: PostgreSQL cannot store it.
    fn text(&self, name: &str) -> Result<Option<String>, ApiError> {
        match self.get(name).map(str::trim) {
            None | Some("") => Ok(None),
            Some(v) if v.contains('\0') => Err(ApiError::nul_character(name)),
            Some(v) => Ok(Some(v.to_string())),
        }
    }

    fn required(&self, name: &str) -> Result<String, ApiError> {
        self.text(name)?
            .ok_or_else(|| ApiError::invalid_field(name, "must not be empty"))
    }

    /// The form's own id: the Idempotency-Key of what it asks, so that a form sent twice (a double click, a
    /// reload after the redirect was lost) is done once.
    pub fn form_id(&self) -> Result<String, ApiError> {
        let id = self.required("form_id")?;
        if id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(ApiError::invalid_field(
                "form_id",
                "must be 1 to 64 letters, digits or hyphens",
            ));
        }
        Ok(id)
    }
}

/// An amount in KRW as typed: digits, optionally with thousands separators (`12,000`) or a trailing 원.
fn amount(name: &str, value: &str) -> Result<i64, ApiError> {
    let digits: String = value
        .trim()
        .trim_end_matches('원')
        .chars()
        .filter(|c| *c != ',')
        .collect();
    match digits.parse::<i64>() {
        Ok(n) if n > 0 && !digits.starts_with('+') => Ok(n),
        _ => Err(ApiError::invalid_field(
            name,
            "must be a positive whole number of won",
        )),
    }
}

/// Cancel or partial cancel (`amount` blank: all that is left).
#[derive(Debug, Serialize)]
pub struct CancelForm {
    pub amount: Option<i64>,
    pub reason: String,
}

impl CancelForm {
    pub fn parse(fields: &FormFields) -> Result<CancelForm, ApiError> {
        Ok(CancelForm {
            amount: fields
                .text("amount")?
                .map(|a| amount("amount", &a))
                .transpose()?,
            reason: fields.required("reason")?,
        })
    }
}

/// A refund the merchant made by bank transfer.
#[derive(Debug, Serialize)]
pub struct RefundForm {
    pub amount: i64,
    pub reason: String,
    pub bank_code: String,
    pub account: String,
    pub holder: String,
    pub reference: Option<String>,
}

impl RefundForm {
    pub fn parse(fields: &FormFields) -> Result<RefundForm, ApiError> {
        Ok(RefundForm {
            amount: amount("amount", &fields.required("amount")?)?,
            reason: fields.required("reason")?,
            bank_code: fields.required("bank_code")?,
            account: fields.required("account")?,
            holder: fields.required("holder")?,
            reference: fields.text("reference")?,
        })
    }

    /// The API's body for the same refund: the service validates it as it does for the API.
    pub fn body(&self) -> RefundBody {
        RefundBody {
            amount: self.amount,
            reason: self.reason.clone(),
            bank_code: self.bank_code.clone(),
            account: self.account.clone(),
            holder: self.holder.clone(),
            reference: self.reference.clone(),
        }
    }
}

/// The resolution of a review.
#[derive(Debug, Serialize)]
pub struct ResolveForm {
    pub action: ResolveAction,
    pub reason: String,
}

impl ResolveForm {
    pub fn parse(fields: &FormFields) -> Result<ResolveForm, ApiError> {
        let action = match fields.text("action")?.as_deref() {
            Some("accept") => ResolveAction::Accept,
            Some("cancel") => ResolveAction::Cancel,
            _ => {
                return Err(ApiError::invalid_field(
                    "action",
                    "must be accept or cancel",
                ))
            }
        };
        Ok(ResolveForm {
            action,
            reason: fields.required("reason")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_as_people_type_them() {
        assert_eq!(amount("amount", "12000").ok(), Some(12_000));
        assert_eq!(amount("amount", " 12,000원 ").ok(), Some(12_000));
        for bad in ["", "0", "-5", "+5", "1.5", "abc", "99999999999999999999"] {
            assert!(amount("amount", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn forms_name_the_bad_field() {
        let fields = FormFields::parse(b"amount=abc&reason=x");
        let err = CancelForm::parse(&fields).unwrap_err();
        assert_eq!(err.errors[0].field, "amount");
        let fields = FormFields::parse(b"amount=&reason=%20");
        let err = CancelForm::parse(&fields).unwrap_err();
        assert_eq!(err.errors[0].field, "reason");
        let fields = FormFields::parse(b"amount=&reason=ok");
        assert_eq!(CancelForm::parse(&fields).unwrap().amount, None);
        let fields = FormFields::parse(b"action=maybe&reason=x");
        assert_eq!(
            ResolveForm::parse(&fields).unwrap_err().errors[0].field,
            "action"
        );
        let fields = FormFields::parse(b"reason=a%00b");
        assert_eq!(
            CancelForm::parse(&fields).unwrap_err().code,
            "nul_character"
        );
    }
}
