//! What a buyer's browser does with the sandbox, for scripted clients that have none (tests, load tools): post
//! the merchant's signed form in EUC-KR, read the auto-submitting result page, and post it to the ReturnURL in the
//! page's charset. Needs a sandbox in `auto` mode (no payment window to click).

use anyhow::Context;
use smartro::form::{decode_text, encode_form, Charset};

/// The auto-submitting `resultForm` of the sandbox's result page.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultForm {
    pub action: String,
    pub charset: Charset,
    pub fields: Vec<(String, String)>,
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let needle = format!("{name}=\"");
    let start = tag.find(&needle)? + needle.len();
    let end = tag[start..].find('"')? + start;
    Some(unescape(&tag[start..end]))
}

/// `(name, value)` of every `<input>` of a page (the sandbox's pages hold one form each).
pub fn inputs(html: &str) -> Vec<(String, String)> {
    html.split("<input")
        .skip(1)
        .filter_map(|rest| {
            let tag = &rest[..rest.find('>')?];
            Some((attr(tag, "name")?, attr(tag, "value").unwrap_or_default()))
        })
        .collect()
}

/// Attribute `name` of the page's `<form id="{id}"` tag.
pub fn form_attr(html: &str, id: &str, name: &str) -> Option<String> {
    let start = html.find(&format!("<form id=\"{id}\""))?;
    let tag = &html[start..start + html[start..].find('>')?];
    attr(tag, name)
}

impl ResultForm {
    /// Reads the result form of a page, or `None` when the page has none (an error page, the payment window).
    pub fn read(html: &str) -> Option<ResultForm> {
        let charset = match form_attr(html, "resultForm", "accept-charset").as_deref() {
            Some("EUC-KR") => Charset::EucKr,
            _ => Charset::Utf8,
        };
        Some(ResultForm {
            action: form_attr(html, "resultForm", "action")?,
            charset,
            fields: inputs(html),
        })
    }

    /// The form body a browser would post: the fields form-encoded in the page's charset.
    pub fn body(&self) -> String {
        let pairs: Vec<(&str, &str)> = self
            .fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        encode_form(&pairs, self.charset)
    }
}

/// Pays: posts the merchant's form `fields` to the sandbox's `pay_url` as a browser with `accept-charset="EUC-KR"`
/// does, then posts the result page's form to its ReturnURL. Returns the ReturnURL's answer.
pub async fn pay(
    http: &reqwest::Client,
    pay_url: &str,
    fields: &[(String, String)],
) -> anyhow::Result<reqwest::Response> {
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let window = http
        .post(pay_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode_form(&pairs, Charset::EucKr))
        .send()
        .await
        .context("posting the payment form to the sandbox")?;
    let status = window.status();
    let html = decode_text(
        &window
            .bytes()
            .await
            .context("reading the sandbox's answer")?,
    );
    let result = ResultForm::read(&html).with_context(|| {
        format!("the sandbox answered {status} without a result form (auto mode?): {html}")
    })?;
    http.post(&result.action)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(result.body())
        .send()
        .await
        .context("posting the result to the ReturnURL")
}
