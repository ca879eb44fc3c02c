"""A small hand-written runbook corpus with questions of three kinds, for the benchmark and
the tests (written apart from the retrieval weights, which were set on the synthetic set):

- ``runbook-identifier``: names an error or ticket code the runbook holds (``TN-3480``);
- ``runbook-keyword``: uses the runbook's own words;
- ``runbook-paraphrase``: says it as a user would, in words the runbook does not use
  ("the office wifi keeps dropping" for "wireless association failures").

Each question's answer sits in one known file (``source``) and one known phrase
(``evidence``), which also makes it a citation-accuracy set: an answer citing another
file cites the wrong source.
"""

from __future__ import annotations

import json
from pathlib import Path

RUNBOOKS: dict[str, str] = {
    "printer.md": """# Printer runbook

## TN-3480: toner cartridge not recognised
The front panel shows TN-3480 when the toner cartridge chip cannot be read. Remove the
cartridge, wipe the gold contacts with a dry lint-free cloth and reseat it until it clicks.
If the code returns, order a genuine cartridge; third-party chips are rejected by firmware 4.2.

## Paper jams in tray 2
Jams in tray 2 are almost always caused by the paper guides being set too tight. Slide the
guides out by one millimetre and fan the stack before loading. Replace the pickup roller
every 150,000 pages.

## Scanning to e-mail fails
Scan-to-email uses the relay smtp-relay.corp.example on port 587 with the account
scanner@corp.example. When the password rotates every 90 days, update it on the printer's
web page under Network > SMTP.
""",
    "database.md": """# Database runbook

## DB-7731: replication lag above threshold
DB-7731 fires when the replica is more than 30 seconds behind the primary. Check for a long
running transaction with the pg_stat_activity view and cancel it if it is a report query.
If lag keeps growing, pause the nightly vacuum on the replica.

## Restoring from backup
Backups are taken at 02:00 with pgBackRest and kept for 35 days. To restore a single table,
restore the whole cluster to the scratch host db-scratch-01, then copy the table across with
pg_dump and pg_restore.

## Connection pool exhausted
PgBouncer allows 400 client connections. When applications report "too many clients",
raise default_pool_size from 20 to 40 only after checking for leaked idle-in-transaction
sessions.
""",
    "network.md": """# Network runbook

## Wireless association failures
Access points log NW-2205 when a client fails 802.1X authentication. Most failures follow
an expired machine certificate: renew it from the device management portal and reconnect.
Roaming problems between floors are fixed by lowering the minimum data rate to 12 Mbps.

## VPN tunnel drops
The site-to-site tunnel to the warehouse renegotiates every 8 hours. If it drops more often,
compare the IKE lifetime on both firewalls; a mismatch of phase 2 lifetimes causes the
tunnel to flap.

## DNS resolution is slow
Internal names resolve through dns1 and dns2 at 10.0.0.53 and 10.0.1.53. Slow lookups
usually mean dns1 is overloaded; restart the unbound service and check the forwarder
timeout of 1500 ms.
""",
    "email.md": """# E-mail runbook

## Mailbox over quota
Mailboxes are limited to 50 GB. When a user hits the limit, incoming mail bounces with
MX-5521. Enable the online archive, which moves items older than two years automatically.

## Phishing report handling
Messages reported with the Report button land in the security queue. Analysts must purge a
confirmed phishing message from every mailbox within 4 hours using the compliance search.

## Calendar invitations not arriving
External invitations are stripped when the sender's domain fails DMARC. Add the partner
domain to the allow list only after the partner publishes a valid SPF record.
""",
    "laptop.md": """# Laptop runbook

## BitLocker recovery key prompt
After a BIOS update the laptop may ask for the BitLocker recovery key. The 48-digit key is
stored in the device management portal under the device record; read it to the user over
the phone only after verifying their employee number.

## Battery drains overnight
Modern standby keeps the network awake. Disable "allow network connectivity during standby"
in the power policy; batteries below 70 % design capacity are replaced under warranty.

## Docking station monitors stay black
Update the dock firmware to 1.0.48 or later and use the vendor's USB-C cable; third-party
cables under 100 W cannot carry two 4K displays.
""",
    "access.md": """# Building access runbook

## Badge does not open the door
Readers show a red light with code AC-1190 when the badge was never activated. Activation
takes up to 15 minutes after the HR record is created. Temporary badges expire at 18:00.

## Visitor registration
Visitors are registered in the lobby kiosk at least one day ahead. Contractors need a
signed non-disclosure agreement on file before a badge is printed.

## Lost badge
Report a lost badge at once: security disables it within 10 minutes and a replacement costs
25 euros, charged to the cost centre.
""",
}

QUESTIONS: list[dict] = [
    {"q": "What should I do about printer error TN-3480?", "e": "wipe the gold contacts",
     "s": "printer.md", "k": "runbook-identifier"},
    {"q": "Why do paper jams happen in tray 2?", "e": "paper guides being set too tight",
     "s": "printer.md", "k": "runbook-keyword"},
    {"q": "The copier won't send scans to my inbox anymore, what changed?",
     "e": "password rotates every 90 days", "s": "printer.md", "k": "runbook-paraphrase"},
    {"q": "How do I handle DB-7731?", "e": "long running transaction",
     "s": "database.md", "k": "runbook-identifier"},
    {"q": "How long are backups kept and how do I restore a single table?",
     "e": "kept for 35 days", "s": "database.md", "k": "runbook-keyword"},
    {"q": "Apps say the database refuses new logins because there are too many users "
          "connected", "e": "PgBouncer allows 400 client connections", "s": "database.md",
     "k": "runbook-paraphrase"},
    {"q": "What does NW-2205 mean?", "e": "802.1X authentication", "s": "network.md",
     "k": "runbook-identifier"},
    {"q": "Why does the VPN tunnel to the warehouse drop?", "e": "IKE lifetime",
     "s": "network.md", "k": "runbook-keyword"},
    {"q": "Looking up internal hostnames takes forever", "e": "dns1 is overloaded",
     "s": "network.md", "k": "runbook-paraphrase"},
    {"q": "The office wifi won't let my laptop on, it says authentication failed",
     "e": "expired machine certificate", "s": "network.md", "k": "runbook-paraphrase"},
    {"q": "Incoming mail bounces with MX-5521", "e": "Enable the online archive",
     "s": "email.md", "k": "runbook-identifier"},
    {"q": "How fast must a confirmed phishing message be purged?", "e": "within 4 hours",
     "s": "email.md", "k": "runbook-keyword"},
    {"q": "Meeting requests from a partner company never show up",
     "e": "fails DMARC", "s": "email.md", "k": "runbook-paraphrase"},
    {"q": "Where is the BitLocker recovery key stored?", "e": "48-digit key",
     "s": "laptop.md", "k": "runbook-keyword"},
    {"q": "My notebook is empty every morning even though I left it charged",
     "e": "Modern standby keeps the network awake", "s": "laptop.md",
     "k": "runbook-paraphrase"},
    {"q": "Two external screens stay dark when I plug into the desk hub",
     "e": "dock firmware to 1.0.48", "s": "laptop.md", "k": "runbook-paraphrase"},
    {"q": "The reader shows AC-1190, what now?", "e": "never activated", "s": "access.md",
     "k": "runbook-identifier"},
    {"q": "How do I register a visitor?", "e": "lobby kiosk", "s": "access.md",
     "k": "runbook-keyword"},
    {"q": "I misplaced my entry card, whom do I tell and what does it cost?",
     "e": "replacement costs", "s": "access.md", "k": "runbook-paraphrase"},
    {"q": "How many client connections does PgBouncer allow?", "e": "400 client connections",
     "s": "database.md", "k": "runbook-keyword"},
]


def write_runbooks(folder: str | Path, qa_name: str = "qa.jsonl") -> tuple[Path, Path]:
    """Write the runbooks to ``folder/docs`` and the questions to ``folder/qa_name``;
    returns (docs folder, QA file)."""
    folder = Path(folder)
    docs = folder / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    for name, text in RUNBOOKS.items():
        (docs / name).write_text(text, encoding="utf-8")
    qa = folder / qa_name
    with open(qa, "w", encoding="utf-8") as f:
        for x in QUESTIONS:
            f.write(json.dumps({"question": x["q"], "evidence": x["e"], "source": x["s"],
                                "kind": x["k"]}) + "\n")
    return docs, qa
