"""pandas, as a BI notebook reads the facade: a table of tickets by GET ?format=csv, read with
read_csv, must hold every text as the JSON answer has it (multi-line bodies included).

    FACADE_URL=http://127.0.0.1:8080 /usr/bin/python3 bi/csv_roundtrip.py

Debian's python3-pandas (/usr/bin/python3); .ci/clients/run installs and runs it."""

import json
import os
import sys
import urllib.parse
import urllib.request

import pandas as pd

base = os.environ["FACADE_URL"]
headers = {"Authorization": "Bearer demo-token"}
ids = [str(100001 + i) for i in range(10)] + ["746839"]
query = "query($ids: [ID!]!) { contracts(ids: $ids) { id history { tickets { id subject bodyPlain createdAt } } } }"
variables = json.dumps({"ids": ids})

url = base + "/graphql?" + urllib.parse.urlencode({"query": query, "variables": variables, "format": "csv"})
table = pd.read_csv(url, storage_options=headers, dtype=str, keep_default_na=False)

req = urllib.request.Request(
    base + "/graphql",
    data=json.dumps({"query": query, "variables": {"ids": ids}}).encode(),
    headers={**headers, "Content-Type": "application/json"},
)
with urllib.request.urlopen(req) as resp:
    answer = json.load(resp)
if answer.get("errors"):
    sys.exit(f"the JSON answer has errors: {answer['errors']}")
want = {
    t["id"]: t
    for c in answer["data"]["contracts"]
    for t in c["history"]["tickets"]
}

failures, multi_line = [], 0
if len(table) != len(want):
    failures.append(f"{len(table)} rows, want {len(want)}")
for _, row in table.iterrows():
    t = want.get(row["history.tickets.id"])
    if t is None:
        failures.append(f"ticket {row['history.tickets.id']} is not in the JSON answer")
        continue
    for col in ("subject", "bodyPlain", "createdAt"):
        got, expected = row["history.tickets." + col], t[col] or ""
        if got != expected:
            failures.append(f"ticket {t['id']} {col}: read back {got!r}, want {expected!r}")
    multi_line += "\n" in (t["bodyPlain"] or "")

print(f"pandas {pd.__version__}: {len(table)} rows, {multi_line} multi-line bodies, {len(failures)} differences")
if multi_line < 8:
    failures.append(f"only {multi_line} multi-line bodies: too few to show anything")
for f in failures[:20]:
    print("  " + f)
sys.exit(1 if failures else 0)
