"""Schemathesis hooks for the run against the gateway (tests/tests/schemathesis.rs).

openapi.json states what the server accepts as precisely as JSON Schema can. A few rules no schema can state
remain; they are handled here, each where it arises, and nowhere else:

- `realistic_order` makes the valid orders the fuzzer generates keep the rules of a new order that depend on the
  gateway's configuration, on today's date, on another field, or on the bytes of a text, as a shop's orders do.
  Without it almost no generated order is created, and stateful testing has no order to follow the links of
  `POST /v1/orders` to. No check is relaxed for `POST /v1/orders`.
- `filter_failure` drops a failure only when the server's answer names one of the rules below and, where the
  request shows it, the request really breaks it. Every other failure of every check fails the run.
"""

from __future__ import annotations

import datetime
import json
import re
import tomllib
import uuid
from pathlib import Path
from urllib.parse import unquote, unquote_plus

import schemathesis

# The gateway under test runs with config/default.toml: its merchants, their escrow policy and sub-malls.
MERCHANTS = tomllib.loads((Path(__file__).resolve().parents[2] / "config" / "default.toml").read_text())["merchants"]
ESCROW_MID = next(m["mid"] for m in MERCHANTS if m.get("escrow", "off") != "off")
SPLIT_MERCHANT = next(m for m in MERCHANTS if m.get("sub_malls"))
KST = datetime.timezone(datetime.timedelta(hours=9))
# Smartro's text limits in UTF-8 bytes (a Hangul syllable counts 3), for the fields of a new order that have one.
ORDER_BYTE_BUDGETS = {("goods_name",): 40, ("mall_user_id",): 20, ("buyer", "name"): 30, ("buyer", "address"): 100}


# --- reading requests and answers ------------------------------------------------------------------------------


def _problem(response) -> dict:
    """The problem+json body of a refusal, or {}."""
    if "json" not in response.headers.get("content-type", [""])[0]:
        return {}
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _field_error(response) -> tuple[str, str, str]:
    """(code, field, message) of a problem naming one field."""
    problem = _problem(response)
    errors = problem.get("errors") or [{}]
    first = errors[0] if isinstance(errors[0], dict) else {}
    return problem.get("code", ""), first.get("field", ""), first.get("message", "")


def _value(body, path: str):
    """The value at `reason` / `split[0].amount` in a JSON request body, or None."""
    node = body
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if part.startswith("["):
            index = int(part[1:-1])
            node = node[index] if isinstance(node, list) and index < len(node) else None
        else:
            node = node.get(part) if isinstance(node, dict) else None
    return node


def _encodable(text: str) -> bool:
    """Whether EUC-KR (Windows-949) can carry the text. Python's cp949 codec and the gateway agree on every
    character (checked against the gateway one by one)."""
    try:
        text.encode("cp949")
    except UnicodeEncodeError:
        return False
    return True


# --- the rules no schema states --------------------------------------------------------------------------------
# Each returns True when the request breaks the rule and the answer says so.


def _whole_float(case, field: str, message: str) -> bool:
    """JSON Schema counts `1000.0` as an integer, and schemathesis sends integers that way half the time; the
    server reads integers (amounts above all) only as written integers, as `info` in the document says."""
    value = _value(case.body, field)
    return message.startswith("invalid type: floating point") and isinstance(value, float) and value.is_integer()


def _not_euc_kr(case, field: str) -> bool:
    """Text sent to Smartro must be encodable in EUC-KR: some 17,000 characters scattered over Unicode, which a
    pattern cannot list usefully; the document says it in words."""
    value = _value(case.body, field)
    return isinstance(value, str) and not _encodable(value)


def _over_utf8_budget(case, field: str, message: str) -> bool:
    """Smartro counts its text limits in UTF-8 bytes; JSON Schema's `maxLength` counts characters, so the
    document bounds the characters and says the bytes in words."""
    match = re.search(r"(?:longer than|at most) (\d+) bytes", message)
    value = _value(case.body, field)
    return bool(match) and isinstance(value, str) and len(value.strip().encode("utf-8")) > int(match.group(1))


RETURN_REQUIRED = ("TID", "ResultCode", "MID", "Amt", "SignValue", "OID")
RETURN_VERBATIM = ("signvalue", "divideinfo")
PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")


def _form_value(form: dict, name: str):
    """The value the server reads for `name`: an exact match first, else an ASCII case-insensitive one."""
    if name in form:
        return form[name]
    return next((v for k, v in form.items() if k.lower() == name.lower()), None)


def _blank_behind_second_layer(case) -> bool:
    """A returnPay's values are URL-encoded a second time (UrlEncode=Y). The server decodes that layer when any
    value (Base64 ones aside) still holds a `%XX` escape, and then `+` and `%20` are spaces too, so a required
    value such as `+` is blank behind it. The document describes the values as the form carries them, which is
    what JSON Schema can describe."""
    form = case.body if isinstance(case.body, dict) else {}
    layered = any(
        isinstance(v, str) and k.lower() not in RETURN_VERBATIM and PERCENT_ESCAPE.search(v) for k, v in form.items()
    )
    if not layered:
        return False
    for name in RETURN_REQUIRED:
        value = _form_value(form, name)
        if not isinstance(value, str):
            continue
        if name.lower() in RETURN_VERBATIM:
            text = unquote(value, errors="replace") if PERCENT_ESCAPE.search(value) else value
        else:
            text = unquote_plus(value, errors="replace")
        if not text.strip():
            return True
    return False


# --- valid orders that keep the rules --------------------------------------------------------------------------


def _integers(value):
    """`1000.0` back to `1000`, all through a body (see _whole_float)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_integers(v) for v in value]
    if isinstance(value, dict):
        return {k: _integers(v) for k, v in value.items()}
    return value


def _euc_kr_text(value: str) -> str:
    """The text with every character EUC-KR cannot carry replaced by `?` (see _not_euc_kr)."""
    return "".join(c if _encodable(c) else "?" for c in value)


def _cut(value: str, budget: int) -> str:
    """The text cut to `budget` UTF-8 bytes (see _over_utf8_budget)."""
    while len(value.encode("utf-8")) > budget:
        value = value[:-1]
    return value


def _within(value: str, budget: int) -> str:
    """The text cut to `budget` UTF-8 bytes, still not blank."""
    value = _cut(value, budget)
    return value if value.strip() else "x" + _cut(value, budget - 1)


def _fresh(value: str, budget: int) -> str:
    """The generated value made unique, keeping as much of it as `budget` bytes allow."""
    suffix = "-" + uuid.uuid4().hex[:12]
    return _within(value, budget - len(suffix)) + suffix if value.strip() else value + suffix


@schemathesis.hook("map_case").apply_to(operation_id="createOrder")
def realistic_order(context, case):
    """A valid order made to keep what the server checks beyond the schema, changing only values that must agree
    with something else:
    - a configured MID (the document gives the form of a MID only); with `escrow`, the merchant that takes
      escrow; with `split`, the merchant with sub-malls, its sub-malls once each, shares adding up to `amount`;
    - `tax` and `svc_amt` within `amount`, `vbank_exp_date` not before today (Korean time), `offer_period` not
      ending before it starts (relations between fields, and with the date);
    - integers written as integers (_whole_float), text EUC-KR can carry (_not_euc_kr) within Smartro's byte
      limits (_over_utf8_budget), `return_url` within 2048 bytes, `metadata` within 8 KiB of JSON;
    - a fresh `order_id` and Idempotency-Key: the fuzzer draws them from a small space, and an order id used
      before is 409, a key used before with another body 422.
    Cases generated to be invalid are left as they are."""
    body = case.body
    if case.meta is None or not case.meta.generation.mode.is_positive or not isinstance(body, dict):
        return case
    body = _integers(body)
    amount = body.get("amount")
    if not isinstance(amount, int) or isinstance(amount, bool):
        return case
    if isinstance(body.get("split"), list) and body["split"]:
        body.pop("escrow", None)
        body["mid"] = SPLIT_MERCHANT["mid"]
        subs = SPLIT_MERCHANT["sub_malls"]
        shares = [dict(share) for share in body["split"][: min(len(subs), amount)]]
        for share, sub in zip(shares, subs):
            share["sub_mall_id"] = sub
        for share in shares[:-1]:
            share["amount"] = 1
        shares[-1]["amount"] = amount - (len(shares) - 1)
        body["split"] = shares
    elif "escrow" in body:
        body["mid"] = ESCROW_MID
    elif "mid" in body:
        body["mid"] = MERCHANTS[sum(map(ord, str(body["mid"]))) % len(MERCHANTS)]["mid"]
    for field in ("tax", "svc_amt"):
        if isinstance(body.get(field), int) and body[field] > amount:
            body[field] = amount
    today = datetime.datetime.now(KST).strftime("%Y%m%d")
    if isinstance(body.get("vbank_exp_date"), str) and body["vbank_exp_date"] < today:
        body["vbank_exp_date"] = f"{int(today[:4]) + 1}{body['vbank_exp_date'][4:]}".replace("0229", "0228")
    period = body.get("offer_period")
    if isinstance(period, dict) and isinstance(period.get("from"), str) and isinstance(period.get("to"), str):
        if period["from"] > period["to"]:
            body["offer_period"] = {**period, "from": period["to"], "to": period["from"]}
    for path, budget in ORDER_BYTE_BUDGETS.items():
        holder = body
        for key in path[:-1]:
            holder = holder.get(key) if isinstance(holder, dict) else None
        if isinstance(holder, dict) and isinstance(holder.get(path[-1]), str):
            holder[path[-1]] = _within(_euc_kr_text(holder[path[-1]]), budget)
    buyer = body.get("buyer")
    if isinstance(buyer, dict) and isinstance(buyer.get("email"), str):
        email = _euc_kr_text(buyer["email"])
        # At most 60 bytes; cutting would break the address, so its non-ASCII characters become `x` instead.
        if len(email.encode("utf-8")) > 60:
            email = "".join(c if c.isascii() else "x" for c in email)
        buyer["email"] = email
    escrow = body.get("escrow")
    if isinstance(escrow, dict):
        for part in escrow.values():
            if isinstance(part, dict):
                for key, value in part.items():
                    if isinstance(value, str):
                        part[key] = _euc_kr_text(value)
    # The split travels as DivideInfo, at most 3000 bytes: each share's goods name within its 40 bytes keeps it so.
    for share in body.get("split") or []:
        if isinstance(share, dict) and isinstance(share.get("goods_name"), str):
            share["goods_name"] = _cut(share["goods_name"], 40)
    if isinstance(body.get("return_url"), str):
        body["return_url"] = _cut(body["return_url"], 2048)
    # At most 8 KiB of JSON (Python writes no less than the gateway's serializer; the margin covers the rest).
    if "metadata" in body and len(json.dumps(body["metadata"], ensure_ascii=False, separators=(",", ":"))) > 8000:
        body["metadata"] = {}
    if isinstance(body.get("order_id"), str):
        body["order_id"] = _fresh(body["order_id"], 40)
    case.body = body
    headers = case.headers
    if headers and isinstance(headers.get("Idempotency-Key"), str):
        case.headers = {**headers, "Idempotency-Key": _fresh(headers["Idempotency-Key"].strip(), 255)}
    return case


# --- failures that are the rules, not the document's fault ---------------------------------------------------


@schemathesis.hook
def filter_failure(context, failure, case, response) -> bool:
    """Keep every failure but these."""
    operation = case.operation.definition.raw.get("operationId")
    status = response.status_code

    # "Created resource not found", following the link from a new order to its receipt: a receipt is Smartro's
    # record of the order's TID, so it exists once the order is paid; until then the answer is 404, documented.
    if failure.code == "ST302":
        return not (
            operation == "getOrderReceipt"
            and status == 404
            and "has no Smartro transaction (TID) yet" in _problem(response).get("detail", "")
        )

    # Everything else concerns "schema-valid request rejected" (ST202) only.
    if failure.code != "ST202":
        return True
    code, field, message = _field_error(response)

    # An Idempotency-Key sent again with another body is refused (422): the fuzzer draws keys from a small space
    # and reuses them, which a client must not; the key's form is in the document, its history cannot be.
    # (Every POST takes an Idempotency-Key.)
    if code == "idempotency_key_reused":
        return False

    # Amounts are integers of won everywhere: `1000.0` is refused in every body.
    if code == "validation_failed" and _whole_float(case, field, message):
        return False

    # A cancel's (or a resolution's) reason goes to Smartro as CancelMSG: EUC-KR, at most 100 UTF-8 bytes.
    if operation in ("cancelOrder", "resolveOrder") and field == "reason":
        if code == "not_euc_kr" and _not_euc_kr(case, field):
            return False
        if code == "validation_failed" and _over_utf8_budget(case, field, message):
            return False

    # `created_to` must be after `created_from`: a relation between two parameters.
    if operation == "listOrders" and status == 400 and field == "created_to":
        if message.startswith("must be after created_from"):
            return False

    if operation == "smartroReturn" and status == 400:
        page = response.text
        # A returnPay counts only with a valid SignValue (SHA-256 over the TID, the ResultCode and the merchant's
        # secret key) from a configured MID, which no schema can generate. The document makes every form that
        # parses schema-valid, so what is left is the "could not be verified" page. (inform answers the same
        # case 403, which needs no exclusion.)
        if "결제 결과를 확인할 수 없습니다" in page:
            return False
        # "Could not be read", when the second URL-encoding layer leaves a required value blank.
        if "결제 결과를 읽을 수 없습니다" in page and _blank_behind_second_layer(case):
            return False

    return True
