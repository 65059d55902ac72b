#!/usr/bin/env python3
"""Smoke test of a running docker-compose stack (docker-compose.yml), with no manual step:

  1. pays a card order through the sandbox's payment window (as a browser would: the signed EUC-KR form, the
     window's approve button, the result form back to the gateway), cancels part of it, reads its receipt;
  2. restarts the gateway alone, and pays again (the sandbox must still be reachable on :9090);
  3. stops PostgreSQL, restarts the gateway, starts PostgreSQL 10 s later, and pays again.

Run it from the repository root once `docker compose up -d --build` (or docker-compose) is up:
  scripts/compose-smoke.py
Environment: COMPOSE (default "docker-compose"; e.g. "docker compose"), GATEWAY_URL (http://localhost:8080),
SANDBOX_URL (http://localhost:9090), GATEWAY_API_KEY (sk_test_change_me). Python 3 standard library only.
Exit status 0 when every step passed; the first failure stops it with a line saying what went wrong.
"""

import html
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

COMPOSE = os.environ.get("COMPOSE", "docker-compose").split()
BASE = os.environ.get("GATEWAY_URL", "http://localhost:8080").rstrip("/")
SANDBOX = os.environ.get("SANDBOX_URL", "http://localhost:9090").rstrip("/")
API_KEY = os.environ.get("GATEWAY_API_KEY", "sk_test_change_me")
RUN = str(int(time.time()))


class Failed(Exception):
    pass


def say(text):
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def request(method, url, body=None, headers=None, timeout=30):
    """(status, bytes, final URL); redirects are followed, HTTP errors are answers too."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, response.read(), response.geturl()
    except urllib.error.HTTPError as e:
        return e.code, e.read(), url


def api(method, path, body=None):
    headers = {"Authorization": f"Bearer {API_KEY}"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    status, raw, _ = request(method, BASE + path, data, headers)
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def compose(*args):
    say("$ " + " ".join(COMPOSE + list(args)))
    done = subprocess.run(COMPOSE + list(args), capture_output=True, text=True)
    if done.returncode != 0:
        raise Failed(f"{' '.join(args)} failed: {done.stderr.strip()}")


def wait_ready(timeout=180):
    """Until the gateway says ready and the sandbox answers on its port."""
    deadline = time.time() + timeout
    last = ""
    while time.time() < deadline:
        try:
            gateway, _, _ = request("GET", BASE + "/readyz", timeout=5)
            sandbox, _, _ = request("GET", SANDBOX + "/", timeout=5)
            if gateway == 200 and sandbox == 200:
                return
            last = f"gateway /readyz {gateway}, sandbox / {sandbox}"
        except OSError as e:
            last = str(e)
        time.sleep(1)
    raise Failed(f"the stack did not become ready in {timeout} s: {last}")


def inputs(page):
    return [
        (html.unescape(name), html.unescape(value))
        for name, value in re.findall(r'<input[^>]*name="([^"]*)"[^>]*value="([^"]*)"', page)
    ]


def form_attr(page, form_id, name):
    tag = re.search(r'<form id="%s"[^>]*>' % form_id, page)
    found = tag and re.search(r'%s="([^"]*)"' % name, tag.group(0))
    return html.unescape(found.group(1)) if found else None


def pay(order_id, amount):
    """Pays a card order as a buyer would; returns the order once it is paid."""
    status, order = api(
        "POST",
        "/v1/orders",
        {
            "order_id": order_id,
            "amount": amount,
            "goods_name": "스모크 테스트 상품",
            "pay_method": "CARD",
            "buyer": {"name": "홍길동", "tel": "010-1234-5678", "email": "buyer@example.com"},
        },
    )
    if status != 201:
        raise Failed(f"create order {order_id}: {status} {order}")
    token = order["checkout_url"].split("?t=")[1]
    status, form = api("GET", f"/v1/checkout/{order_id}?t={token}")
    if status != 200:
        raise Failed(f"checkout form: {status} {form}")
    # The browser posts the signed form to Smartro (the sandbox) in EUC-KR.
    body = urllib.parse.urlencode(form["fields"], encoding="euc-kr").encode()
    status, window, _ = request(
        "POST", form["action_url"], body, {"Content-Type": "application/x-www-form-urlencoded"}
    )
    window = window.decode("utf-8", errors="replace")
    session = dict(inputs(window)).get("session")
    card = re.search(r'<select name="card_code"[^>]*>\s*<option value="([^"]*)"', window)
    if status != 200 or not session or not card:
        raise Failed(f"the sandbox's payment window: {status} {window[:300]}")
    # The buyer presses 승인 (approve).
    decide = form_attr(window, "payForm", "action")
    body = urllib.parse.urlencode(
        {"session": session, "card_code": card.group(1), "quota": "00", "decision": "approve"}
    ).encode()
    status, result, _ = request("POST", decide, body, {"Content-Type": "application/x-www-form-urlencoded"})
    result = result.decode("utf-8", errors="replace")
    action = form_attr(result, "resultForm", "action")
    charset = form_attr(result, "resultForm", "accept-charset") or "UTF-8"
    if status != 200 or not action:
        raise Failed(f"the sandbox's result page: {status} {result[:300]}")
    # The page submits the signed result to the gateway's ReturnURL.
    encoding = "euc-kr" if charset.upper() == "EUC-KR" else "utf-8"
    body = urllib.parse.urlencode(inputs(result), encoding=encoding).encode()
    status, page, url = request("POST", action, body, {"Content-Type": "application/x-www-form-urlencoded"})
    if status != 200:
        raise Failed(f"returnPay: {status} at {url}: {page[:300]!r}")
    # Confirmed with Smartro's (the sandbox's) receipt API, usually before the page above was answered.
    deadline = time.time() + 60
    while time.time() < deadline:
        status, order = api("GET", f"/v1/orders/{order_id}")
        if status == 200 and order["status"] == "paid":
            say(f"paid {order_id} ({amount} KRW, TID {order['tid']})")
            return order
        time.sleep(1)
    raise Failed(f"{order_id} is not paid: {status} {order}")


def cancel_part(order_id, amount):
    status, order = api("POST", f"/v1/orders/{order_id}/cancel", {"amount": amount, "reason": "부분 취소 (smoke)"})
    if status != 200 or order["status"] != "partially_cancelled" or order["cancelled_amount"] != amount:
        raise Failed(f"partial cancel of {order_id}: {status} {order}")
    say(f"cancelled {amount} KRW of {order_id}")


def receipt(order_id):
    status, body = api("GET", f"/v1/orders/{order_id}/receipt")
    if status != 200 or "receipt_url" not in body:
        raise Failed(f"receipt of {order_id}: {status} {body}")
    say(f"receipt of {order_id}: {body['receipt_url']}")


def main():
    say(f"gateway {BASE}, sandbox {SANDBOX}, compose: {' '.join(COMPOSE)}")
    wait_ready()

    say("1. pay, cancel part, read the receipt")
    pay(f"SMOKE-{RUN}-1", 10_000)
    cancel_part(f"SMOKE-{RUN}-1", 3_000)
    receipt(f"SMOKE-{RUN}-1")

    say("2. restart the gateway alone, pay again")
    compose("restart", "gateway")
    wait_ready()
    pay(f"SMOKE-{RUN}-2", 20_000)

    say("3. stop PostgreSQL, restart the gateway, start PostgreSQL 10 s later, pay again")
    compose("stop", "postgres")
    compose("restart", "gateway")
    time.sleep(10)
    status, _, _ = request("GET", BASE + "/readyz", timeout=5)
    if status != 503:
        raise Failed(f"/readyz answered {status} while PostgreSQL was stopped")
    say("gateway up without its database: /readyz 503")
    compose("start", "postgres")
    wait_ready()
    pay(f"SMOKE-{RUN}-3", 30_000)

    say("all steps passed")


if __name__ == "__main__":
    try:
        main()
    except Failed as e:
        say(f"FAILED: {e}")
        sys.exit(1)
