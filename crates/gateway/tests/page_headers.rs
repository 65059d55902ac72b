//! The page-headers layer on its own, with pages that the gateway does not have (yet): a page with its own
//! policy, one that sets its own caching, a redirect from Smartro's return. The gateway's real pages are checked
//! in `edges.rs`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap};
use axum::middleware;
use axum::response::{Html, Redirect};
use axum::routing::get;
use axum::Router;
use gateway::http::{page_headers, PageHeaders};
use tower::ServiceExt;

async fn headers_of(app: Router, path: &str) -> HeaderMap {
    let request = Request::builder().uri(path).body(Body::empty()).unwrap();
    app.oneshot(request).await.unwrap().headers().clone()
}

fn pages() -> Router {
    Router::new()
        .route("/page", get(|| async { Html("<p>page</p>") }))
        .route(
            "/own-policy",
            get(|| async {
                (
                    [(
                        header::CONTENT_SECURITY_POLICY,
                        "script-src 'self' 'unsafe-inline'",
                    )],
                    Html("<script>1</script>"),
                )
            }),
        )
        .route(
            "/framed-by-choice",
            get(|| async {
                (
                    [(header::CONTENT_SECURITY_POLICY, "frame-ancestors 'self'")],
                    Html("<p>framed</p>"),
                )
            }),
        )
        .route(
            "/cached",
            get(|| async {
                (
                    [(header::CACHE_CONTROL, "max-age=60")],
                    Html("<p>cached</p>"),
                )
            }),
        )
        .route(
            "/pay/{order_id}",
            get(|| async { ([(header::CACHE_CONTROL, "max-age=60")], Html("<p>pay</p>")) }),
        )
        .route(
            "/smartro/return",
            get(|| async { Redirect::to("https://shop.example.com/done") }),
        )
        .route("/json", get(|| async { "{}" }))
        .layer(middleware::from_fn_with_state(
            Arc::new(PageHeaders::new(&["https://shop.example.com".to_string()])),
            page_headers,
        ))
}

fn csp(headers: &HeaderMap) -> &str {
    headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap()
}

#[tokio::test]
async fn a_page_gets_the_policy_and_no_store() {
    let h = headers_of(pages(), "/page").await;
    assert!(csp(&h).ends_with("frame-ancestors 'none'"), "{}", csp(&h));
    assert_eq!(h[header::CACHE_CONTROL], "no-store");
    assert_eq!(h[header::REFERRER_POLICY], "strict-origin");
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    let h = headers_of(pages(), "/pay/O-1").await;
    assert!(
        csp(&h).ends_with("frame-ancestors https://shop.example.com"),
        "{}",
        csp(&h)
    );
}

#[tokio::test]
async fn a_page_with_its_own_policy_keeps_it_but_never_loses_frame_ancestors() {
    let h = headers_of(pages(), "/own-policy").await;
    assert_eq!(
        csp(&h),
        "script-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
    );
    let h = headers_of(pages(), "/framed-by-choice").await;
    assert_eq!(csp(&h), "frame-ancestors 'self'");
}

#[tokio::test]
async fn buyer_pages_are_never_cached_whatever_the_handler_said() {
    let h = headers_of(pages(), "/cached").await;
    assert_eq!(h[header::CACHE_CONTROL], "max-age=60");
    let h = headers_of(pages(), "/pay/O-1").await;
    assert_eq!(h[header::CACHE_CONTROL], "no-store");
    let h = headers_of(pages(), "/smartro/return").await;
    assert_eq!(h[header::CACHE_CONTROL], "no-store");
    assert!(
        h.get(header::CONTENT_SECURITY_POLICY).is_none(),
        "not a page"
    );
}

#[tokio::test]
async fn other_responses_only_get_nosniff() {
    let h = headers_of(pages(), "/json").await;
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert!(h.get(header::CONTENT_SECURITY_POLICY).is_none());
    assert!(h.get(header::REFERRER_POLICY).is_none());
    assert!(h.get(header::CACHE_CONTROL).is_none());
}
