//! The OpenAPI document served at `/openapi.json` is checked against the code that it describes: the routes of
//! `src/http/*.rs` and the serialized structs of `src/views.rs` and `src/service/orders.rs`. The sources are read at
//! test time, so a new route or field without documentation fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn spec() -> Value {
    let path = crate_dir().join("src/http/openapi.json");
    serde_json::from_str(&read(&path))
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Every `$ref` in `node` that does not resolve inside `doc`, with where it was found.
fn dangling_refs(doc: &Value, node: &Value, at: &str, out: &mut Vec<String>) {
    match node {
        Value::Object(map) => {
            for (key, value) in map {
                if key == "$ref" {
                    let resolved = value
                        .as_str()
                        .and_then(|r| r.strip_prefix('#'))
                        .and_then(|pointer| doc.pointer(pointer));
                    if resolved.is_none() {
                        out.push(format!("{at}: {value}"));
                    }
                } else {
                    dangling_refs(doc, value, &format!("{at}/{key}"), out);
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                dangling_refs(doc, item, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// The text between the parenthesis at `open` and its match.
fn balanced(text: &str, open: usize) -> Option<&str> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in text[open..].char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&text[open + 1..open + i]);
                }
            }
            _ => {}
        }
    }
    None
}

/// `(path, method)` of every `.route("…", get(…).post(…))` call in `source`.
fn routes_in(source: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = 0;
    while let Some(i) = source[rest..].find(".route(") {
        let open = rest + i + ".route".len();
        let args = balanced(source, open)
            .unwrap_or_else(|| panic!("unbalanced .route( call at byte {open}"));
        rest = open + 1;
        let Some(after_quote) = args.trim_start().strip_prefix('"') else {
            panic!("a .route( call whose path is not a string literal: {args}");
        };
        let Some(end) = after_quote.find('"') else {
            panic!("unterminated path in .route({args})");
        };
        let path = &after_quote[..end];
        let handlers = &after_quote[end + 1..];
        let mut methods = 0;
        for (pos, _) in handlers.match_indices('(') {
            let word_start = handlers[..pos]
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .map_or(0, |p| p + 1);
            let word = &handlers[word_start..pos];
            if METHODS.contains(&word) {
                found.push((path.to_string(), word.to_string()));
                methods += 1;
            }
        }
        assert!(methods > 0, "no HTTP method found in .route({args})");
    }
    found
}

fn code_routes() -> Vec<(String, String)> {
    let dir = crate_dir().join("src/http");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|ext| ext == "rs"))
        .collect();
    files.sort();
    files.iter().flat_map(|f| routes_in(&read(f))).collect()
}

/// A field of a Rust struct, as far as serde's output is concerned.
#[derive(Debug, Clone, Copy)]
struct RustField {
    /// `Option<…>`: may be absent from a request body.
    optional: bool,
    /// `skip_serializing_if`: may be absent from a response; an `Option` without it is serialized as null.
    skipped: bool,
}

/// The fields of `pub struct name { … }` in `source`.
fn struct_fields(source: &str, name: &str) -> BTreeMap<String, RustField> {
    let header = format!("pub struct {name} {{");
    let start = source
        .find(&header)
        .unwrap_or_else(|| panic!("struct {name} not found"))
        + header.len();
    let end = start
        + source[start..]
            .find("\n}")
            .unwrap_or_else(|| panic!("struct {name} not closed"));
    let mut fields = BTreeMap::new();
    let mut skipped = false;
    for line in source[start..end].lines().map(str::trim) {
        if line.starts_with("#[serde(") && line.contains("skip_serializing_if") {
            skipped = true;
        } else if let Some(decl) = line.strip_prefix("pub ") {
            let (field, ty) = decl
                .split_once(':')
                .unwrap_or_else(|| panic!("unexpected line in {name}: {line}"));
            let optional = ty.trim().starts_with("Option<");
            fields.insert(field.trim().to_string(), RustField { optional, skipped });
            skipped = false;
        }
    }
    assert!(!fields.is_empty(), "struct {name} has no fields");
    fields
}

/// Field name → whether the field is in `required`, for a schema of the document.
fn schema_fields(doc: &Value, schema: &str) -> BTreeMap<String, bool> {
    let s = &doc["components"]["schemas"][schema];
    let required: BTreeSet<&str> = s["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    s["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("schema {schema} has no properties"))
        .keys()
        .map(|k| (k.clone(), required.contains(k.as_str())))
        .collect()
}

/// The string literals of `Type::Variant => "literal"` match arms in `source`.
fn arm_literals(source: &str, type_name: &str) -> BTreeSet<String> {
    let prefix = format!("{type_name}::");
    source
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with(&prefix) && l.contains("=> \""))
        .filter_map(|l| l.split('"').nth(1).map(str::to_string))
        .collect()
}

/// An `Option` serialized without `skip_serializing_if` is sent as null, so its schema must allow null.
fn check_nullability(doc: &Value, schema: &str, field: &str, f: RustField) {
    let prop = &doc["components"]["schemas"][schema]["properties"][field];
    let allows_null = prop["type"]
        .as_array()
        .is_some_and(|types| types.iter().any(|t| t == "null"));
    assert_eq!(
        allows_null,
        f.optional && !f.skipped,
        "nullability of {schema}.{field}"
    );
}

fn schema_enum(doc: &Value, schema: &str) -> BTreeSet<String> {
    doc["components"]["schemas"][schema]["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("schema {schema} has no enum"))
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut ops = Vec::new();
    for section in ["paths", "webhooks"] {
        for (path, item) in doc[section].as_object().into_iter().flatten() {
            for (method, op) in item.as_object().into_iter().flatten() {
                if METHODS.contains(&method.as_str()) {
                    ops.push((format!("{section} {path}"), method.clone(), op));
                }
            }
        }
    }
    ops
}

#[test]
fn the_document_is_openapi_3_1() {
    let doc = spec();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["info"]["title"].is_string());
    assert!(doc["info"]["version"].is_string());
    assert_eq!(
        doc["components"]["securitySchemes"]["bearerAuth"]["scheme"],
        "bearer"
    );
}

#[test]
fn every_ref_resolves_inside_the_document() {
    let doc = spec();
    let mut dangling = Vec::new();
    dangling_refs(&doc, &doc, "#", &mut dangling);
    assert!(dangling.is_empty(), "unresolved $ref: {dangling:#?}");
}

#[test]
fn the_ref_check_catches_a_dangling_ref() {
    let doc: Value = serde_json::json!({
        "components": { "schemas": { "A": { "type": "string" } } },
        "x": [ { "$ref": "#/components/schemas/A" }, { "$ref": "#/components/schemas/B" } ],
    });
    let mut dangling = Vec::new();
    dangling_refs(&doc, &doc, "#", &mut dangling);
    assert_eq!(dangling.len(), 1, "{dangling:?}");
    assert!(dangling[0].contains("schemas/B"));
}

#[test]
fn every_route_of_the_code_is_documented() {
    let doc = spec();
    let routes = code_routes();
    let paths: BTreeSet<&str> = routes.iter().map(|(p, _)| p.as_str()).collect();
    // The scan itself must see the routes known to exist, or this test would pass on an empty list.
    for known in [
        "/v1/orders",
        "/v1/orders/{order_id}",
        "/smartro/inform",
        "/pay/{order_id}",
        "/openapi.json",
    ] {
        assert!(
            paths.contains(known),
            "route scan missed {known}: {paths:?}"
        );
    }
    let missing: Vec<String> = routes
        .iter()
        .filter(|(path, method)| !doc["paths"][path.as_str()][method.as_str()].is_object())
        .map(|(path, method)| format!("{} {path}", method.to_uppercase()))
        .collect();
    assert!(
        missing.is_empty(),
        "routes without documentation: {missing:?}"
    );
}

#[test]
fn the_route_scan_reads_chained_methods() {
    let source = r#"Router::new()
        .route("/a/{id}", post(create).get(list))
        .route("/b", get(|| async { "x(" }))"#;
    assert_eq!(
        routes_in(source),
        vec![
            ("/a/{id}".to_string(), "post".to_string()),
            ("/a/{id}".to_string(), "get".to_string()),
            ("/b".to_string(), "get".to_string()),
        ]
    );
}

#[test]
fn the_contract_routes_are_documented() {
    let doc = spec();
    for (path, method) in [
        ("/v1/orders", "post"),
        ("/v1/orders", "get"),
        ("/v1/orders/{order_id}", "get"),
        ("/v1/orders/{order_id}/cancel", "post"),
        ("/v1/orders/{order_id}/receipt", "get"),
        ("/v1/orders/{order_id}/refunds", "post"),
        ("/v1/orders/{order_id}/resolve", "post"),
        ("/v1/payments/{tid}", "get"),
        ("/v1/codes/results", "get"),
        ("/v1/codes/results/{code}", "get"),
        ("/v1/codes/cards", "get"),
        ("/v1/codes/banks", "get"),
        ("/v1/codes/couriers", "get"),
        ("/v1/checkout/{order_id}", "get"),
        ("/v1/checkout/{order_id}/status", "get"),
        ("/pay/{order_id}", "get"),
        ("/smartro/return", "post"),
        ("/smartro/inform", "post"),
        ("/v1/events", "get"),
        ("/v1/events/{id}/redeliver", "post"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
        ("/openapi.json", "get"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} not documented"
        );
    }
}

#[test]
fn every_operation_has_a_unique_id_and_responses() {
    let doc = spec();
    let ops = operations(&doc);
    assert!(ops.len() >= 24, "only {} operations", ops.len());
    let mut ids = BTreeSet::new();
    for (path, method, op) in &ops {
        let id = op["operationId"]
            .as_str()
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
        assert!(ids.insert(id.to_string()), "operationId {id} is used twice");
        assert!(
            op["responses"].as_object().is_some_and(|r| !r.is_empty()),
            "{method} {path} has no response"
        );
    }
}

#[test]
fn every_path_parameter_is_declared() {
    let doc = spec();
    let resolve = |p: &Value| -> Value {
        match p["$ref"].as_str().and_then(|r| r.strip_prefix('#')) {
            Some(pointer) => doc.pointer(pointer).cloned().unwrap_or(Value::Null),
            None => p.clone(),
        }
    };
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        let templated: BTreeSet<&str> = path
            .split('{')
            .skip(1)
            .filter_map(|s| s.split('}').next())
            .collect();
        for (method, op) in item.as_object().into_iter().flatten() {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            let declared: BTreeSet<String> = item["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .chain(op["parameters"].as_array().into_iter().flatten())
                .map(resolve)
                .filter(|p| p["in"] == "path")
                .filter_map(|p| p["name"].as_str().map(str::to_string))
                .collect();
            let templated: BTreeSet<String> = templated.iter().map(|s| s.to_string()).collect();
            assert_eq!(declared, templated, "path parameters of {method} {path}");
        }
    }
}

/// The `code` literals of the problems `src/http/*.rs` builds: `ApiError::new(StatusCode::…, "code", …)`,
/// `ApiError::conflict("code", …)` and the field problems of `error.rs`.
fn problem_codes_in(source: &str) -> BTreeSet<String> {
    let mut codes = BTreeSet::new();
    for opener in [
        "ApiError::conflict(",
        "ApiError::new(",
        "Self::new(",
        "field_problem(",
    ] {
        let mut rest = 0;
        while let Some(i) = source[rest..].find(opener) {
            let args_start = rest + i + opener.len();
            rest = args_start;
            let args = source[args_start..].trim_start();
            // `new` takes the status first; the code is the first string literal either way.
            let args = match args.strip_prefix("StatusCode::") {
                Some(after) => after
                    .split_once(',')
                    .map_or("", |(_, rest)| rest)
                    .trim_start(),
                None => args,
            };
            if let Some(literal) = args.strip_prefix('"') {
                if let Some((code, _)) = literal.split_once('"') {
                    codes.insert(code.to_string());
                }
            }
        }
    }
    codes
}

#[test]
fn every_problem_code_is_documented() {
    let mut codes = BTreeSet::new();
    // The handlers' own problems, and those of the flows they call.
    for dir in ["src/http", "src/service"] {
        let dir = crate_dir().join(dir);
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|ext| ext == "rs") {
                codes.extend(problem_codes_in(&read(&path)));
            }
        }
    }
    // The scan must see codes known to exist, or this test would pass on an empty list.
    for known in [
        "validation_failed",
        "order_exists",
        "cancel_in_progress",
        "nul_character",
        "not_euc_kr",
        "smartro_no_answer",
    ] {
        assert!(codes.contains(known), "code scan missed {known}: {codes:?}");
    }
    let doc = read(&crate_dir().join("src/http/openapi.json"));
    let missing: Vec<&String> = codes
        .iter()
        .filter(|code| !doc.contains(&format!("`{code}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "problem codes without documentation: {missing:?}"
    );
}

#[test]
fn the_code_scan_reads_every_constructor() {
    let source = r#"ApiError::conflict("a_code", "x");
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "b_code",
            "t",
        );
        Self::field_problem("c_code", field, message)"#;
    let codes: Vec<String> = problem_codes_in(source).into_iter().collect();
    assert_eq!(codes, ["a_code", "b_code", "c_code"]);
}

#[test]
fn the_order_schema_matches_the_serialized_order() {
    let doc = spec();
    let views = read(&crate_dir().join("src/views.rs"));
    for (rust, schema) in [
        ("OrderView", "Order"),
        ("BuyerView", "Buyer"),
        ("VbankView", "Vbank"),
        ("CardView", "Card"),
        ("PaymentView", "Payment"),
        ("CancellationView", "Cancellation"),
        ("RefundView", "Refund"),
        ("ResolutionView", "Resolution"),
    ] {
        let code = struct_fields(&views, rust);
        let documented = schema_fields(&doc, schema);
        let code_names: BTreeSet<&String> = code.keys().collect();
        let doc_names: BTreeSet<&String> = documented.keys().collect();
        assert_eq!(code_names, doc_names, "fields of {rust} vs schema {schema}");
        for (field, f) in &code {
            // A field always serialized (even as null) is required; one that may be omitted is not.
            assert_eq!(
                documented[field], !f.skipped,
                "required-ness of {schema}.{field}"
            );
            check_nullability(&doc, schema, field, *f);
        }
    }
}

#[test]
fn the_request_schemas_match_the_request_bodies() {
    let doc = spec();
    for (file, rust, schema) in [
        ("src/service/orders.rs", "CreateOrderBody", "CreateOrder"),
        ("src/service/orders.rs", "BuyerBody", "Buyer"),
        ("src/http/cancel.rs", "CancelBody", "CancelOrder"),
        ("src/service/refunds.rs", "RefundBody", "RecordRefund"),
        ("src/http/resolutions.rs", "ResolveBody", "ResolveOrder"),
    ] {
        let code = struct_fields(&read(&crate_dir().join(file)), rust);
        let documented = schema_fields(&doc, schema);
        assert_eq!(
            code.keys().collect::<BTreeSet<_>>(),
            documented.keys().collect::<BTreeSet<_>>(),
            "fields of {rust} vs schema {schema}"
        );
        for (field, f) in &code {
            assert_eq!(
                documented[field], !f.optional,
                "required-ness of {schema}.{field}"
            );
        }
    }
}

#[test]
fn status_and_event_enums_match_the_domain() {
    let doc = spec();
    let status = read(&crate_dir().join("src/domain/status.rs"));
    let statuses = arm_literals(&status, "OrderStatus");
    assert_eq!(statuses.len(), 7, "{statuses:?}");
    assert_eq!(schema_enum(&doc, "OrderStatus"), statuses);
    let events = arm_literals(&status, "EventType");
    assert_eq!(events.len(), 12, "{events:?}");
    assert_eq!(schema_enum(&doc, "EventType"), events);
    let webhooks: BTreeSet<String> = doc["webhooks"]
        .as_object()
        .map(|w| w.keys().cloned().collect())
        .unwrap_or_default();
    assert_eq!(webhooks, events, "one webhook entry per event type");
}

#[test]
fn the_code_table_schemas_match_the_smartro_crate() {
    let doc = spec();
    let codes = read(&crate_dir().join("../smartro/src/codes.rs"));
    for (rust, schema) in [
        ("ResultCode", "ResultCode"),
        ("CardCompany", "CardCompany"),
        ("Bank", "Bank"),
        ("Courier", "Courier"),
    ] {
        let code = struct_fields(&codes, rust);
        let documented = schema_fields(&doc, schema);
        assert_eq!(
            code.keys().collect::<BTreeSet<_>>(),
            documented.keys().collect::<BTreeSet<_>>(),
            "fields of {rust} vs schema {schema}"
        );
        for (field, f) in &code {
            assert_eq!(
                documented[field], !f.skipped,
                "required-ness of {schema}.{field}"
            );
            check_nullability(&doc, schema, field, *f);
        }
    }
}

#[test]
fn amounts_are_integers() {
    let doc = spec();
    for (schema, field) in [
        ("Order", "amount"),
        ("Order", "paid_amount"),
        ("Order", "cancelled_amount"),
        ("Order", "refunded_amount"),
        ("Payment", "amount"),
        ("Refund", "amount"),
        ("Resolution", "former_amount"),
        ("RecordRefund", "amount"),
        ("Cancellation", "amount"),
        ("CreateOrder", "amount"),
        ("CreateOrder", "tax"),
        ("CreateOrder", "svc_amt"),
        ("CancelOrder", "amount"),
    ] {
        let s = &doc["components"]["schemas"][schema]["properties"][field];
        assert_eq!(s["type"], "integer", "{schema}.{field}");
        assert_eq!(s["format"], "int64", "{schema}.{field}");
    }
}

#[test]
fn code_enums_match_the_smartro_code_tables() {
    let doc = spec();
    let strings = |v: &Value| -> BTreeSet<String> {
        v.as_array()
            .unwrap_or_else(|| panic!("not an enum: {v}"))
            .iter()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect()
    };
    let schemas = &doc["components"]["schemas"];
    let cards: BTreeSet<String> = smartro::codes::CARD_COMPANIES
        .iter()
        .map(|c| c.issuer_code.to_string())
        .collect();
    assert_eq!(
        strings(&schemas["CardChoice"]["properties"]["issuer_code"]["enum"]),
        cards
    );
    let banks: BTreeSet<String> = smartro::codes::BANKS
        .iter()
        .map(|b| b.code.to_string())
        .collect();
    assert_eq!(
        strings(&schemas["RecordRefund"]["properties"]["bank_code"]["enum"]),
        banks
    );
    let couriers: BTreeSet<String> = smartro::codes::COURIERS
        .iter()
        .map(|c| c.code.to_string())
        .collect();
    assert_eq!(
        strings(&schemas["Escrow"]["properties"]["delivery"]["properties"]["code"]["enum"]),
        couriers
    );
}

/// `(kind, parameter)` of the lists' cursors: `paging::cursor(&query, "kind")` in `src/http/*.rs`, and the
/// parameter of the document that list's `cursor` refers to.
#[test]
fn cursor_patterns_are_those_of_their_lists() {
    use base64::Engine;
    let doc = spec();
    for (file, path, parameter) in [
        ("src/http/api.rs", "/v1/orders", "OrderCursor"),
        ("src/http/events.rs", "/v1/events", "EventCursor"),
    ] {
        let source = read(&crate_dir().join(file));
        let call = "paging::cursor(&query, \"";
        let start = source
            .find(call)
            .unwrap_or_else(|| panic!("no paging::cursor call in {file}"))
            + call.len();
        let kind = &source[start..start + source[start..].find('"').unwrap()];
        let reference = format!("#/components/parameters/{parameter}");
        assert!(
            doc["paths"][path]["get"]["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["$ref"] == reference.as_str()),
            "GET {path} takes {parameter}"
        );
        // Every cursor of the list starts with the Base64 of its kind (three bytes, four characters).
        let prefix = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(kind);
        let pattern = doc["components"]["parameters"][parameter]["schema"]["pattern"]
            .as_str()
            .unwrap_or_else(|| panic!("{parameter} has no pattern"));
        assert!(
            pattern.starts_with(&format!("^(?:{prefix}Oj")),
            "{parameter}: {pattern} is not a pattern of `{kind}:` cursors (scripts/cursor-pattern.py {kind})"
        );
        assert!(
            gateway::http::paging::encode_cursor(kind, 42).starts_with(&format!("{prefix}Oj")),
            "the encoding of cursors changed: regenerate the patterns with scripts/cursor-pattern.py"
        );
    }
}

#[test]
fn every_link_names_an_operation_and_its_parameters() {
    let doc = spec();
    let ops = operations(&doc);
    // operationId → the parameters of the operation and of its path.
    let mut by_id: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for item in doc["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(_, i)| i)
    {
        for (method, op) in item.as_object().into_iter().flatten() {
            if let (true, Some(id)) = (
                METHODS.contains(&method.as_str()),
                op["operationId"].as_str(),
            ) {
                by_id.insert(
                    id,
                    item["parameters"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .chain(op["parameters"].as_array().into_iter().flatten())
                        .collect(),
                );
            }
        }
    }
    let resolve = |p: &Value| -> Value {
        match p["$ref"].as_str().and_then(|r| r.strip_prefix('#')) {
            Some(pointer) => doc.pointer(pointer).cloned().unwrap_or(Value::Null),
            None => p.clone(),
        }
    };
    let mut links = 0;
    for (path, method, op) in &ops {
        for (status, response) in op["responses"].as_object().into_iter().flatten() {
            for (name, link) in response["links"].as_object().into_iter().flatten() {
                links += 1;
                let at = format!("{method} {path} {status} link {name}");
                let id = link["operationId"].as_str().unwrap_or_default();
                let parameters = by_id
                    .get(id)
                    .unwrap_or_else(|| panic!("{at}: no operation {id:?}"));
                let declared: BTreeSet<String> = parameters
                    .iter()
                    .map(|p| resolve(p))
                    .filter_map(|p| Some(format!("{}.{}", p["in"].as_str()?, p["name"].as_str()?)))
                    .collect();
                for (parameter, expression) in link["parameters"].as_object().into_iter().flatten()
                {
                    let qualified = if parameter.contains('.') {
                        parameter.clone()
                    } else {
                        format!("path.{parameter}")
                    };
                    assert!(
                        declared.contains(&qualified),
                        "{at}: {id} has no parameter {qualified} ({declared:?})"
                    );
                    let field = expression
                        .as_str()
                        .and_then(|e| e.strip_prefix("$response.body#/"))
                        .unwrap_or_else(|| panic!("{at}: {expression} is not a body pointer"));
                    let schema = response["content"]["application/json"]["schema"]["$ref"]
                        .as_str()
                        .and_then(|r| r.strip_prefix("#/components/schemas/"))
                        .unwrap_or_else(|| {
                            panic!("{at}: the response has no schema to point into")
                        });
                    assert!(
                        schema_fields(&doc, schema).contains_key(field),
                        "{at}: {schema} has no {field}"
                    );
                }
            }
        }
    }
    // The operations of an order are reached from the order that POST /v1/orders creates.
    assert!(
        doc["paths"]["/v1/orders"]["post"]["responses"]["201"]["links"]["GetOrder"].is_object(),
        "POST /v1/orders links to its order"
    );
    assert!(links >= 5, "only {links} links");
}

/// The strings of `schema` (followed through `$ref`s, properties, items and combinators) that say nothing about
/// which characters they take (no `pattern`, `enum`, `const` or `format`), and the integers that have no bound.
fn unbounded_strings(doc: &Value, schema: &Value, at: &str, depth: usize, out: &mut Vec<String>) {
    let mut schema = schema;
    while let Some(pointer) = schema["$ref"].as_str().and_then(|r| r.strip_prefix('#')) {
        schema = doc.pointer(pointer).unwrap_or(&Value::Null);
    }
    if depth > 16 || !schema.is_object() {
        return;
    }
    let is_type = |name: &str| match &schema["type"] {
        Value::String(t) => t == name,
        Value::Array(types) => types.iter().any(|t| t == name),
        _ => false,
    };
    let states = |keys: &[&str]| keys.iter().any(|k| schema.get(*k).is_some());
    if is_type("string") && !states(&["pattern", "enum", "const", "format", "anyOf", "oneOf"]) {
        out.push(at.to_string());
    }
    // The server reads integers as i64 (or narrower): a larger one is refused although JSON Schema allows it.
    if is_type("integer") && !states(&["format", "maximum", "enum", "const", "anyOf", "oneOf"]) {
        out.push(at.to_string());
    }
    for (name, property) in schema["properties"].as_object().into_iter().flatten() {
        unbounded_strings(doc, property, &format!("{at}.{name}"), depth + 1, out);
    }
    if schema["additionalProperties"].is_object() {
        let extra = &schema["additionalProperties"];
        unbounded_strings(doc, extra, &format!("{at}.*"), depth + 1, out);
    }
    unbounded_strings(doc, &schema["items"], &format!("{at}[]"), depth + 1, out);
    for combinator in ["oneOf", "anyOf", "allOf"] {
        for (i, branch) in schema[combinator]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            unbounded_strings(
                doc,
                branch,
                &format!("{at}|{combinator}[{i}]"),
                depth + 1,
                out,
            );
        }
    }
}

/// A NUL anywhere in a JSON body is refused before any handler runs (422 `nul_character`), and most text fields
/// refuse control characters too, so a body string the document leaves open is one a client (or schemathesis) may
/// send and see refused although the document allowed it. Every such string states its characters.
#[test]
fn every_request_body_string_and_integer_states_its_bounds() {
    let doc = spec();
    let mut open = Vec::new();
    // Webhooks are the gateway's own requests to the shop, not input.
    for (path, method, op) in operations(&doc)
        .into_iter()
        .filter(|(path, _, _)| path.starts_with("paths "))
    {
        for (media, content) in op["requestBody"]["content"]
            .as_object()
            .into_iter()
            .flatten()
        {
            let at = format!("{method} {path} {media}");
            unbounded_strings(&doc, &content["schema"], &at, 0, &mut open);
        }
    }
    assert!(
        open.is_empty(),
        "strings without pattern, enum or format, integers without bound: {open:#?}"
    );
}

#[test]
fn the_string_scan_sees_an_open_string() {
    let doc: Value = serde_json::json!({"components": {"schemas": {"T": {"type": "object", "properties": {
        "a": {"type": "string", "pattern": "^[^\\x00]*$"},
        "b": {"type": "array", "items": {"type": ["string", "null"], "maxLength": 3}},
        "c": {"type": "integer", "minimum": 0},
        "d": {"type": "integer", "format": "int64"}
    }}}}});
    let mut open = Vec::new();
    let schema = serde_json::json!({"$ref": "#/components/schemas/T"});
    unbounded_strings(&doc, &schema, "body", 0, &mut open);
    assert_eq!(open, ["body.b[]", "body.c"]);
}
