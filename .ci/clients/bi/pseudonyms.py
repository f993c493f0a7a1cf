"""pandas, as a BI notebook reads a facade whose callers see personal data masked
(PERSONAL_DATA=mask): the same CSV table from a facade that shows it (FACADE_URL) and one that
masks it (FACADE_MASKED_URL) must count the same distinct customers, senders and IBANs, group
the same tickets under each, and hold no raw e-mail address, phone number or IBAN.

    FACADE_URL=... FACADE_MASKED_URL=... /usr/bin/python3 bi/pseudonyms.py

Debian's python3-pandas (/usr/bin/python3); .ci/clients/run installs and runs it."""

import json
import os
import re
import sys
import urllib.parse

import pandas as pd

headers = {"Authorization": "Bearer demo-token"}
ids = [str(100001 + i) for i in range(20)]
query = """query Senders($ids: [ID!]!) { contracts(ids: $ids) { id email iban phone
  history { tickets { id status from customer { email } } } } }"""


def table(base):
    url = base + "/graphql?" + urllib.parse.urlencode(
        {"query": query, "variables": json.dumps({"ids": ids}), "format": "csv"})
    return pd.read_csv(url, storage_options=headers, dtype=str, keep_default_na=False)


raw, masked = table(os.environ["FACADE_URL"]), table(os.environ["FACADE_MASKED_URL"])
failures = []
if list(raw.columns) != list(masked.columns) or len(raw) != len(masked):
    failures.append(f"shapes differ: {raw.shape} {masked.shape}")
pseudonym = re.compile(r"^masked:[0-9a-f]{16}$")
for col in ("email", "iban", "phone", "history.tickets.from", "history.tickets.customer.email"):
    values = [v for v in masked[col] if v]
    if not values or not all(pseudonym.match(v) for v in values):
        failures.append(f"{col}: not all pseudonyms: {values[:3]}")
    # Distinct values count the same; tickets group the same under each.
    if raw[col].nunique() != masked[col].nunique():
        failures.append(f"{col}: {raw[col].nunique()} distinct raw values, {masked[col].nunique()} pseudonyms")
    by_raw = sorted(raw.groupby(col)["history.tickets.id"].count().tolist())
    by_pseudonym = sorted(masked.groupby(col)["history.tickets.id"].count().tolist())
    if by_raw != by_pseudonym:
        failures.append(f"{col}: tickets per value differ")
# A join across fields: contract holders who wrote themselves, by address or by pseudonym.
own_raw = (raw["email"] == raw["history.tickets.from"]).sum()
own_masked = (masked["email"] == masked["history.tickets.from"]).sum()
if own_raw != own_masked:
    failures.append(f"tickets from the holder's own address: {own_raw} raw, {own_masked} masked")
text = masked.to_csv(index=False)
for col in ("email", "iban", "phone", "history.tickets.from"):
    for v in set(raw[col]) - {""}:
        if v in text:
            failures.append(f"the masked table holds {col} {v!r}")
            break

print(f"pandas {pd.__version__}: {len(masked)} rows, {masked['email'].nunique()} holders,"
      f" {masked['history.tickets.from'].nunique()} senders, {own_masked} own tickets; {len(failures)} differences")
for f in failures[:20]:
    print("  " + f)
sys.exit(1 if failures else 0)
