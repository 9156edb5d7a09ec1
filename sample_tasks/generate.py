#!/usr/bin/env python3
"""Generate the sample task sets and their documents, deterministically (stdlib only).

    python sample_tasks/generate.py              # rewrite sample_tasks/<class>/ in place
    python sample_tasks/generate.py --out DIR    # write them somewhere else (the tests compare)

Every document is invented. Each generator draws a document's facts from a seeded random
generator, writes the document around them, and writes each task's expected answer from those
same facts (never from reading the text back), so an answer is right by construction. See
docs/tasks.md for the format and for what each class plants.
"""

from __future__ import annotations

import argparse
import calendar
import json
import random
import re
import textwrap
from datetime import date, datetime, timedelta
from pathlib import Path

SEED = 20241202
HERE = Path(__file__).resolve().parent
WIDTH = 96


# ------------------------------------------------------------------ helpers


def wrap(text: str, indent: str = "") -> str:
    return textwrap.fill(" ".join(text.split()), WIDTH, initial_indent=indent, subsequent_indent=indent)


def money(amount: float, currency: str) -> str:
    return f"{currency} {amount:,.2f}" if amount != int(amount) else f"{currency} {int(amount):,}"


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]  # not strftime's %B, which follows the locale
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def long_date(day: date) -> str:
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def section_ref(number: str) -> list[str]:
    return [f"Section {number}", f"Clause {number}", f"§{number}", f"§ {number}"]


def task(task_id, task_class, instruction, context, expected, checker, budget, **metadata):
    return {
        "id": task_id, "task_class": task_class, "instruction": instruction, "context": context,
        "expected": expected, "checker": checker, "budget": budget,
        "metadata": {"generated_by": "sample_tasks/generate.py", **metadata},
    }


def write_document(out: Path, name: str, text: str) -> dict:
    """Write a document into the class's docs/ folder; returns the task context that names it."""
    (out / "docs" / name).write_text(text + "\n", encoding="utf-8")
    return {"file": f"docs/{name}"}


def pick_templates(templates: list, count: int, index: int) -> list:
    """`count` templates for document `index`, rotating so each is used about equally often."""
    return [templates[(index * count + k) % len(templates)] for k in range(count)]


# ------------------------------------------------------- legal-contract-review

LEGAL = "legal-contract-review"
SUPPLIERS = ["Corvane Data Systems, Inc.", "Brightline Analytics Ltd", "Ostrava Cloud Services s.r.o.",
             "Meridian Ledger Corp.", "Tallis Networks LLC", "Quarry Point Software AG"]
CUSTOMERS = ["Halden Freight Logistics GmbH", "Norrland Retail AB", "Pellam Health Partners plc",
             "Vantor Municipal Utilities", "Sable Creek Insurance Co.", "Ardent Marine Services B.V."]
LAWS = [("England and Wales", "London", r"England(\s+and\s+Wales)?"), ("Germany", "Frankfurt am Main", r"German"),
        ("the State of New York", "New York City", r"New\s+York"), ("Sweden", "Stockholm", r"Swed(en|ish)"),
        ("Switzerland", "Zurich", r"Swi(ss|tzerland)"), ("Ireland", "Dublin", r"Ireland|Irish")]
DEFINED = ["Affiliate", "Aggregated Data", "Applicable Law", "Business Day", "Confidential Information", "Customer Data",
           "Documentation", "Emergency Maintenance", "Fees", "Initial Term", "Intellectual Property Rights", "Losses",
           "Order Form", "Personal Data", "Platform", "Renewal Term", "Scheduled Maintenance", "Services",
           "Subprocessor", "Term", "Third-Party Claim", "Update"]
DEFINITIONS = {
    "Affiliate": "any entity that directly or indirectly controls, is controlled by, or is under common control with a party, where control means ownership of more than fifty per cent of the voting interests",
    "Aggregated Data": "data derived from Customer Data that has been aggregated with other data so that it does not identify Customer or any individual",
    "Applicable Law": "all laws, regulations and binding guidance of a competent authority that apply to a party's performance under this Agreement",
    "Business Day": "a day other than a Saturday, Sunday or public holiday in the place of the Supplier's principal office",
    "Confidential Information": "all non-public information disclosed by or on behalf of a party, in any form, that is marked confidential or would reasonably be understood to be confidential",
    "Customer Data": "all data submitted to the Platform by or on behalf of Customer, and all data generated by the Services from it",
    "Documentation": "the user guides and technical specifications for the Services that Supplier makes available, as updated from time to time",
    "Emergency Maintenance": "maintenance that Supplier reasonably considers necessary to address an urgent security or stability risk",
    "Fees": "the fees set out in the Order Form and in Section 3",
    "Initial Term": "the period stated in Section 4.1",
    "Intellectual Property Rights": "patents, copyright, database rights, design rights, trade marks, know-how and all similar rights anywhere in the world",
    "Losses": "all losses, damages, liabilities, costs (including reasonable legal fees), fines and penalties",
    "Order Form": "each ordering document signed by both parties that references this Agreement",
    "Personal Data": "personal data as defined in the data protection laws that apply to the processing concerned",
    "Platform": "Supplier's hosted software platform through which the Services are provided",
    "Renewal Term": "each renewal period under Section 4.2",
    "Scheduled Maintenance": "maintenance announced at least five Business Days in advance and performed in the window stated in Schedule A",
    "Services": "the hosted services, support and professional services described in the Order Form",
    "Subprocessor": "any third party engaged by Supplier to process Customer Data",
    "Term": "the Initial Term together with every Renewal Term",
    "Third-Party Claim": "any claim, demand or proceeding brought by a person other than a party or its Affiliates",
    "Update": "any patch, fix, new version or release of the Platform that Supplier makes generally available",
}
BOILERPLATE = [
    "Each party shall comply with all Applicable Law in the performance of its obligations under this Agreement and shall obtain and maintain every licence and consent it needs for that performance.",
    "Nothing in this Agreement shall be construed as creating a partnership, joint venture or agency relationship between the parties, and neither party has authority to bind the other.",
    "Any notice under this Agreement shall be in writing and delivered by hand, by recognised courier or by e-mail to the address set out in the Order Form, and is deemed received on the next Business Day.",
    "No failure or delay by a party in exercising any right or remedy under this Agreement shall operate as a waiver of it, nor shall any single or partial exercise preclude any further exercise of that or any other right.",
    "If any provision of this Agreement is held invalid or unenforceable, it shall be modified to the minimum extent necessary to make it enforceable, and the remaining provisions shall continue in full force.",
    "This Agreement may be executed in counterparts, each of which is an original and all of which together constitute one instrument; electronic signatures have the same effect as handwritten ones.",
    "Each party shall bear its own costs in connection with the negotiation, preparation and execution of this Agreement and of every Order Form.",
    "The headings in this Agreement are for convenience only and do not affect its interpretation; words in the singular include the plural and the other way round.",
    "Supplier shall maintain a business continuity plan that it reviews at least annually and shall provide a summary of it to Customer on written request.",
    "Supplier shall ensure that its personnel who perform the Services are suitably skilled and experienced and are bound by written obligations of confidentiality.",
    "Customer shall provide Supplier with such information and cooperation as Supplier reasonably requests to perform the Services, in a timely manner.",
    "Each party shall keep complete and accurate records relating to this Agreement for at least six years after its expiry or termination.",
    "Neither party shall, during the Term and for twelve months afterwards, solicit for employment any employee of the other party who was materially involved in the Services, save through general advertising.",
    "The parties shall meet by video conference at least once each calendar quarter to review the performance of the Services, open issues and the planned roadmap of the Platform.",
    "Supplier may use Customer's name and logo in lists of its customers, but shall not issue any press release about this Agreement without Customer's prior written approval.",
    "Each party warrants that it has full power and authority to enter into this Agreement and that doing so will not breach any other agreement by which it is bound.",
]
EXCLUSION_ITEMS = [  # (item as the checker expects it, aliases, how the contract says it)
    ("confidentiality", [], "breach of Section {conf} (Confidentiality)"),
    ("gross negligence", ["wilful misconduct", "willful misconduct"], "gross negligence or wilful misconduct"),
    ("personal injury", ["death"], "death or personal injury caused by negligence"),
    ("fraud", ["fraudulent misrepresentation"], "fraud or fraudulent misrepresentation"),
    ("payment of fees", ["fees", "payment obligations"], "Customer's obligation to pay the Fees"),
    ("indemnities", ["indemnity", "indemnification"], "each party's obligations under Section {indem} (Indemnification)"),
    ("data protection", ["personal data breach", "section {dp}"], "breach of Section {dp} (Data Protection)"),
]


def legal_contract(rng: random.Random, index: int) -> tuple[str, dict]:
    supplier, customer = SUPPLIERS[index], CUSTOMERS[index]
    law, venue, law_pattern = LAWS[index]
    currency = ["EUR", "USD", "GBP"][index % 3]
    p = {
        "number": f"MSA-{2024 + index % 2}-{rng.randint(100, 999):04d}",
        "effective": date(2024 + index % 2, rng.randint(1, 12), rng.randint(1, 28)),
        "fees": rng.randrange(240, 960, 12) * 1000, "currency": currency,
        "initial_months": rng.choice([24, 36, 48]), "renewal_months": rng.choice([12, 24]),
        "notice_days": rng.choice([60, 90, 120, 180]), "uplift_floor": rng.choice([3, 5, 7, 9]),
        "cpi_plus": rng.choice([2, 3, 4]), "payment_days": rng.choice([30, 45, 60]),
        "interest": rng.choice([1.0, 1.5, 2.0]), "cap_months": rng.choice([3, 6, 12]),
        "customer_uncapped": rng.random() < 0.6, "customer_cap_multiple": rng.choice([2, 3]),
        "sla": rng.choice([99.0, 99.5, 99.9]), "credit_cap": rng.choice([10, 15, 20, 25]),
        "maintenance_hours": rng.choice([4, 6, 8, 12]), "breach_days": rng.choice([3, 5, 7]),
        "breach_hours": rng.choice([24, 48, 72]), "body_prevails": rng.random() < 0.5,
        "convenience": rng.choice(["Supplier", "Customer", "both", "neither"]), "convenience_days": rng.choice([30, 60, 90, 180]),
        "cure_days": rng.choice([15, 30, 45]), "survival_years": rng.choice([2, 3, 5]),
        "subprocessor_days": rng.choice([10, 14, 30]), "dpa_subprocessor_days": rng.choice([30, 45]),
        "suspend_days": rng.choice([10, 15, 30]), "modify_days": rng.choice([14, 30, 60]),
        "insurance": rng.choice([2, 5, 10]), "data_return_days": rng.choice([30, 60, 90]),
        "supplier": supplier, "customer": customer, "law": law, "venue": venue, "law_pattern": law_pattern,
    }
    p["sole_remedy"] = sorted(rng.sample(["modify", "sla", "subprocessor", "warranty"], rng.randint(2, 4)))
    p["exclusions"] = sorted(rng.sample(range(len(EXCLUSION_ITEMS)), rng.randint(3, 5)))
    gap = round(100 - p["sla"], 1)
    p["tiers"] = [(round(p["sla"] - gap, 2), p["sla"], rng.choice([2, 3, 5])),
                  (round(p["sla"] - 3 * gap, 2), round(p["sla"] - gap, 2), rng.choice([7, 10])),
                  (0.0, round(p["sla"] - 3 * gap, 2), rng.choice([15, 20, 25]))]

    # Optional sections shift the numbering, so a section's number must be read from this contract.
    sections = ["Definitions", "Services", "Fees and Payment", "Term and Termination", "Service Levels",
                "Confidentiality", "Data Protection", "Intellectual Property", "Warranties", "Indemnification",
                "Limitation of Liability", "Insurance", "Governing Law and Disputes", "General"]
    for extra in sorted(rng.sample(["Acceptance", "Audit Rights", "Non-Solicitation", "Publicity", "Change Control"],
                                   rng.randint(0, 3)), key=lambda _: rng.random()):
        sections.insert(rng.randint(2, len(sections) - 2), extra)
    num = {name: str(i + 1) for i, name in enumerate(sections)}
    where: dict[str, str] = {}
    cur, fees = p["currency"], p["fees"]
    s = num

    def clauses(name: str) -> list[tuple[str | None, str]]:
        if name == "Definitions":
            refs = {"Section 3": f"Section {s['Fees and Payment']}", "Section 4.1": f"Section {s['Term and Termination']}.1",
                    "Section 4.2": f"Section {s['Term and Termination']}.2"}
            out = []
            for term in DEFINED:
                meaning = DEFINITIONS[term]
                for old, new in refs.items():
                    meaning = meaning.replace(old, new)
                out.append((None, f"'{term}' means {meaning}."))
            return out
        if name == "Services":
            out = [(None, f"Supplier shall provide the Services to Customer during the Term in accordance with this Agreement, the Order Form and the Documentation."),
                   (None, "Supplier grants Customer a non-exclusive, non-transferable right for its employees and contractors to access and use the Platform for Customer's internal business purposes during the Term."),
                   ("modify", f"Supplier may modify the Services on {p['modify_days']} days' written notice, provided that no modification materially degrades the core functionality described in the Documentation."
                              + (" If a modification adversely affects Customer, Customer may terminate the affected Services on written notice, which shall be its sole and exclusive remedy." if "modify" in p["sole_remedy"] else " If a modification adversely affects Customer, the parties shall discuss in good faith how to mitigate its effect.")),
                   (None, "Customer is responsible for the accuracy, quality and legality of Customer Data and for the means by which it acquired Customer Data."),
                   (None, "Supplier shall provide second-line support by e-mail and telephone during Business Days between 08:00 and 18:00 in the time zone of Customer's principal office.")]
            return out
        if name == "Fees and Payment":
            return [("fees", f"Customer shall pay Supplier annual Fees of {money(fees, cur)}, invoiced annually in advance on the Effective Date and on each anniversary of it."),
                    ("payment", f"Customer shall pay each undisputed invoice within {p['payment_days']} days of the date of the invoice."),
                    (None, f"Supplier may charge interest on overdue amounts at {p['interest']}% per month from the due date until the date of payment, whether before or after judgment."),
                    ("uplift", f"On the first day of each Renewal Term the Fees shall increase by the greater of {p['uplift_floor']}% and the percentage change in the consumer price index published for the preceding twelve months plus {p['cpi_plus']} percentage points."),
                    (None, "All Fees are exclusive of value added tax and any similar taxes, which Customer shall pay in addition at the applicable rate."),
                    ("suspend", f"If any amount remains unpaid {p['suspend_days']} days after its due date, Supplier may suspend the Services without Customer's consent until the amount is paid in full, including any amount Customer disputes in good faith.")]
        if name == "Term and Termination":
            conv = {"Supplier": f"Supplier may terminate this Agreement for convenience on {p['convenience_days']} days' written notice to Customer. Customer has no right to terminate for convenience.",
                    "Customer": f"Customer may terminate this Agreement for convenience on {p['convenience_days']} days' written notice to Supplier, subject to payment of the Fees for the remainder of the then-current year. Supplier has no right to terminate for convenience.",
                    "both": f"Either party may terminate this Agreement for convenience on {p['convenience_days']} days' written notice to the other.",
                    "neither": f"Neither party may terminate this Agreement for convenience; it may end only as this Section {s['Term and Termination']} otherwise provides."}[p["convenience"]]
            return [("initial", f"This Agreement starts on {long_date(p['effective'])} (the 'Effective Date') and continues for an Initial Term of {p['initial_months']} months."),
                    ("renewal", f"This Agreement renews automatically for successive Renewal Terms of {p['renewal_months']} months each, unless either party gives written notice of non-renewal at least {p['notice_days']} days before the end of the then-current term."),
                    ("cure", f"Either party may terminate this Agreement on written notice if the other commits a material breach and fails to remedy it within {p['cure_days']} days of receiving notice of the breach."),
                    ("convenience", conv),
                    (None, "Either party may terminate this Agreement immediately on written notice if the other becomes insolvent, has a receiver or administrator appointed, or ceases to carry on business."),
                    ("return", f"Within {p['data_return_days']} days after termination Supplier shall make Customer Data available for export in a commonly used format, after which Supplier may delete it.")]
        if name == "Service Levels":
            return [(None, f"Supplier shall make the Platform available in accordance with the service levels in Schedule A."),
                    ("credits", "If Supplier fails to meet the availability target in any calendar month, Supplier shall credit Customer the percentage of the monthly Fees set out in Schedule A."
                                + (" Service credits are Customer's sole and exclusive remedy for any failure to meet the service levels." if "sla" in p["sole_remedy"] else " Service credits are without prejudice to Customer's other rights and remedies.")),
                    ("credit_cap", f"Service credits in any calendar month shall not exceed {p['credit_cap']}% of the monthly Fees."),
                    (None, "Customer must claim a service credit in writing within thirty days after the end of the month concerned, failing which the credit is forfeited.")]
        if name == "Confidentiality":
            return [(None, "Each party shall keep the other's Confidential Information confidential and use it only to perform its obligations or exercise its rights under this Agreement."),
                    (None, "A party may disclose Confidential Information to its employees, Affiliates and professional advisers who need to know it and are bound by obligations of confidentiality no less protective than these."),
                    (None, "The obligations in this Section do not apply to information that is or becomes public other than through breach, was already known to the recipient, or is independently developed."),
                    ("survival", f"The obligations in this Section survive the end of this Agreement for {p['survival_years']} years.")]
        if name == "Data Protection":
            return [(None, "Supplier shall process Personal Data contained in Customer Data only on Customer's documented instructions and in accordance with Schedule B."),
                    (None, "Supplier shall implement appropriate technical and organisational measures to protect Customer Data against accidental or unlawful destruction, loss, alteration or disclosure."),
                    ("subprocessor", f"Supplier may engage new Subprocessors without Customer's consent by updating its published list of Subprocessors. Customer may object within {p['subprocessor_days']} days of the update"
                                     + ("; termination of the affected Services without refund is Customer's sole and exclusive remedy." if "subprocessor" in p["sole_remedy"] else ", and the parties shall then discuss in good faith an alternative.")),
                    (None, "Supplier shall assist Customer, at Customer's cost, in responding to requests from data subjects exercising their rights."),
                    ("breach", f"Supplier shall notify Customer of a Personal Data Breach within {p['breach_days']} Business Days after Supplier has confirmed it."),
                    (None, f"On termination Supplier shall delete or return Personal Data in accordance with Section {s['Term and Termination']} and Schedule B.")]
        if name == "Intellectual Property":
            return [(None, "As between the parties, Supplier owns all Intellectual Property Rights in the Platform, the Documentation and every Update."),
                    (None, "Customer owns all Intellectual Property Rights in Customer Data and grants Supplier a licence to use it solely to provide the Services."),
                    (None, "Supplier may use Aggregated Data for any purpose, including to improve the Platform and to develop new services, during and after the Term."),
                    (None, "Customer grants Supplier a perpetual, royalty-free licence to use any suggestions or feedback about the Services that Customer provides.")]
        if name == "Warranties":
            return [(None, "Supplier warrants that the Services will perform materially in accordance with the Documentation during the Term."),
                    ("warranty", "If the Services do not so perform, Supplier shall use reasonable efforts to correct the non-conformity"
                                 + (", which shall be Customer's sole and exclusive remedy for breach of the warranty in this Section." if "warranty" in p["sole_remedy"] else ", without prejudice to Customer's other rights.")),
                    (None, "Except as expressly stated in this Agreement, all warranties, conditions and terms implied by statute or common law are excluded to the fullest extent permitted by law.")]
        if name == "Indemnification":
            cap = "without limitation of amount, and notwithstanding Section {lol}".format(lol=s["Limitation of Liability"]) if p["customer_uncapped"] else f"up to an aggregate of {p['customer_cap_multiple']} times the annual Fees"
            return [("customer_indemnity", f"Customer shall defend and indemnify Supplier against all Losses arising from any Third-Party Claim concerning Customer Data or Customer's use of the Services, {cap}."),
                    (None, "Supplier shall defend Customer against any Third-Party Claim alleging that the Platform infringes the Intellectual Property Rights of a third party, and pay any damages finally awarded."),
                    (None, "The indemnified party shall notify the indemnifying party promptly of any claim, allow it sole control of the defence and settlement, and give reasonable assistance at its cost.")]
        if name == "Limitation of Liability":
            excluded = "; ".join(EXCLUSION_ITEMS[i][2].format(conf=s["Confidentiality"], indem=s["Indemnification"], dp=s["Data Protection"]) for i in p["exclusions"])
            return [(None, "Neither party shall be liable for any indirect or consequential loss, or for loss of profits, revenue, goodwill or anticipated savings, whether in contract, tort or otherwise."),
                    ("cap", f"Subject to Section {s['Limitation of Liability']}.4, Supplier's total aggregate liability arising out of or in connection with this Agreement shall not exceed the Fees paid or payable in the {p['cap_months']} months preceding the event giving rise to the claim."),
                    ("customer_cap", f"Subject to Section {s['Limitation of Liability']}.4, Customer's total aggregate liability shall not exceed {p['customer_cap_multiple']} times the annual Fees."),
                    ("exclusions", f"The limitations in this Section do not apply to liability for: {excluded}.")]
        if name == "Insurance":
            return [(None, f"Supplier shall maintain professional indemnity insurance with a limit of not less than {cur} {p['insurance']} million per claim during the Term and for two years afterwards."),
                    (None, "Supplier shall maintain cyber liability insurance covering data breaches and network security failures, and shall provide certificates of insurance on request.")]
        if name == "Governing Law and Disputes":
            return [("law", f"This Agreement and any dispute arising from it are governed by the laws of {p['law']}."),
                    (None, f"The parties shall first try to resolve any dispute by escalation to their senior executives, who shall meet within fifteen Business Days of a written request."),
                    ("venue", f"Any dispute not so resolved shall be finally settled by the courts of {p['venue']}, to whose exclusive jurisdiction the parties submit.")]
        if name == "General":
            precedence = (f"In the event of conflict, the body of this Agreement prevails over the Schedules, and the Schedules prevail over any Order Form."
                          if p["body_prevails"] else
                          f"In the event of conflict, the Schedules prevail over the body of this Agreement, and the body of this Agreement prevails over any Order Form.")
            return [(None, BOILERPLATE[2]), ("assignment", "Supplier may assign or novate this Agreement to an Affiliate or to a successor of its business without Customer's consent; Customer may not assign it without Supplier's prior written consent."),
                    (None, BOILERPLATE[4]), (None, "Neither party is liable for failure to perform caused by events beyond its reasonable control, provided it notifies the other promptly and uses reasonable efforts to resume performance."),
                    ("precedence", precedence), (None, "This Agreement is the entire agreement between the parties about its subject matter and supersedes all earlier agreements, representations and understandings.")]
        extras = {
            "Acceptance": ["Customer shall test each professional services deliverable within ten Business Days of delivery and either accept it or notify Supplier of the non-conformities it found.",
                           "A deliverable is deemed accepted if Customer does not notify any non-conformity within that period or uses the deliverable in production."],
            "Audit Rights": ["Customer may, on thirty days' written notice and no more than once in any twelve-month period, audit Supplier's compliance with this Agreement at Customer's own cost.",
                             "Supplier may satisfy an audit request by providing a current independent audit report covering the controls concerned."],
            "Non-Solicitation": [BOILERPLATE[12], "The restriction in this Section does not prevent either party from hiring a person who responds to a general advertisement or approaches it unsolicited."],
            "Publicity": [BOILERPLATE[14], "Each party shall comply with the other's reasonable brand guidelines when using its name or marks."],
            "Change Control": ["Either party may request a change to the Services by a written change request describing the change and its reasons.",
                               "No change is binding unless set out in a change note signed by authorised representatives of both parties, stating any adjustment to the Fees."],
        }
        return [(None, text) for text in extras[name]]

    lines = [f"MASTER SERVICES AGREEMENT {p['number']}".center(WIDTH).rstrip(), "",
             wrap(f"This Master Services Agreement (the 'Agreement') is made on {long_date(p['effective'])} between "
                  f"{supplier} ('Supplier') and {customer} ('Customer'), each a 'party'."), "",
             wrap("The parties agree as follows. Capitalised terms have the meanings given in Section 1. References to "
                  "Sections are to sections of this Agreement and references to Schedules are to its schedules, which form part of it."), ""]
    filler = rng.sample(BOILERPLATE, len(BOILERPLATE))
    for name in sections:
        n = num[name]
        lines += [f"{n}. {name.upper()}", ""]
        body = clauses(name)
        if name not in ("Definitions",):
            body = body + [(None, filler.pop())] if filler and rng.random() < 0.6 else body
        for k, (key, text) in enumerate(body, start=1):
            ref = f"{n}.{k}"
            if key:
                where[key] = ref
            lines += [wrap(f"{ref}  {text}"), ""]
    tier_rows = [f"  {low:.2f}% to below {high:.2f}%" if low else f"  below {high:.2f}%" for low, high, _ in p["tiers"]]
    lines += ["SCHEDULE A - SERVICE LEVELS", "",
              wrap(f"A-1  Availability target. The Platform shall be available {p['sla']}% of the time in each calendar month, "
                   f"measured by Supplier's monitoring, excluding Scheduled Maintenance of up to {p['maintenance_hours']} hours per month "
                   "and any Emergency Maintenance."), "",
              wrap("A-2  Service credits. Where monthly availability falls in a band below, the credit is the stated percentage of the monthly Fees:"), ""]
    for row, (_, _, pct) in zip(tier_rows, p["tiers"]):
        lines.append(f"{row:<40}{pct}% of monthly Fees")
    lines += ["", wrap("A-3  Scheduled Maintenance is performed between 22:00 and 04:00 in the time zone of Supplier's principal office."), "",
              "SCHEDULE B - DATA PROCESSING ADDENDUM", "",
              wrap("B-1  This Schedule applies where Supplier processes Personal Data on behalf of Customer as processor."), "",
              wrap(f"B-2  Supplier shall give Customer at least {p['dpa_subprocessor_days']} days' advance notice of any intended addition or replacement of a Subprocessor."), "",
              wrap(f"B-3  Supplier shall notify Customer of any Personal Data Breach without undue delay and in any event within {p['breach_hours']} hours of becoming aware of it."), "",
              wrap("B-4  Customer may audit Supplier's processing once per calendar year on thirty days' notice, at Customer's cost."), "",
              wrap("B-5  Transfers of Personal Data outside the European Economic Area are made under the standard contractual clauses adopted by the European Commission."), "",
              f"Signed for and on behalf of {supplier}: ____________________   Signed for and on behalf of {customer}: ____________________", ""]
    p["where"] = where
    p["sections"] = num
    return "\n".join(lines), p


def legal_tasks(rng: random.Random, out: Path) -> list[dict]:
    budget = {"max_calls": 40, "max_tokens": 200_000, "max_seconds": 900}
    tasks = []
    for index in range(6):
        text, p = legal_contract(rng, index)
        ctx = write_document(out, f"msa-{index + 1:02d}.txt", text)
        w, cur = p["where"], p["currency"]
        cpi = rng.choice([1.0, 2.5, 4.5, 6.0])
        rise = max(p["uplift_floor"], cpi + p["cpi_plus"])
        end = add_months(p["effective"], p["initial_months"]) - timedelta(days=1)
        deadline = end - timedelta(days=p["notice_days"])
        availability = round((p["tiers"][1][0] + p["tiers"][1][1]) / 2, 2)
        prevailing = w["breach"] if p["body_prevails"] else "B-3"
        excluded = [EXCLUSION_ITEMS[i] for i in p["exclusions"]]
        sole = sorted(w[{"sla": "credits"}.get(k, k)] for k in p["sole_remedy"])
        supplier_short = p["supplier"].split(",")[0].split(" ")[0]
        templates = [
            ("cap-months", "Under the limitation of liability section, the Supplier's total liability is capped at the Fees paid or payable in how many preceding months? Answer with the number of months.",
             p["cap_months"], {"kind": "number", "abs_tol": 0, "units": ["months", "month"]}, {"distractor": str(p["customer_cap_multiple"] * 12)}),
            ("cap-section", "Which numbered clause sets the cap on the Supplier's total aggregate liability? Answer with the clause number only (e.g. 9.3).",
             w["cap"], {"kind": "exact", "aliases": section_ref(w["cap"])}, {"distractor": w["customer_cap"]}),
            ("renewal-fee", f"Assume the consumer price index rose {cpi}% over the twelve months before the first Renewal Term. What are the annual Fees, in {cur}, for the first Renewal Term? Answer with the amount.",
             round(p["fees"] * (1 + rise / 100), 2), {"kind": "number", "rel_tol": 0.001}, {"distractor": str(p["fees"])}),
            ("notice-deadline", "The Initial Term runs from the Effective Date for the stated number of months, ending the day before the anniversary. What is the last day on which a party can give notice of non-renewal so that the Agreement ends with the Initial Term? Answer with the date.",
             deadline.isoformat(), {"kind": "regex", "flags": ["IGNORECASE"], "pattern": rf"{deadline.isoformat()}|\b{deadline.day}(st|nd|rd|th)?\s+{MONTHS[deadline.month - 1]},?\s+{deadline.year}\b|\b{MONTHS[deadline.month - 1]}\s+{deadline.day}(st|nd|rd|th)?,?\s+{deadline.year}\b"},
             {"distractor": end.isoformat()}),
            ("sole-remedy", "List every clause (by number, e.g. 2.3) that states a remedy is Customer's sole and exclusive remedy.",
             sole, {"kind": "set", "score": "f1", "aliases": {ref: section_ref(ref) for ref in sole}}, {"distractor": w["cure"]}),
            ("cap-exclusions", "The limitation of liability does not apply to certain kinds of liability. List them, one short phrase each.",
             [item for item, _, _ in excluded], {"kind": "set", "score": "recall", "aliases": {
                 item: [a.format(dp=p["sections"]["Data Protection"]) for a in aliases] for item, aliases, _ in excluded if aliases}},
             {"distractor": "indirect loss"}),
            ("convenience", "Who may terminate the Agreement for convenience? Answer Supplier, Customer, both or neither.",
             p["convenience"], {"kind": "exact", "aliases": {"both": ["either party", "both parties", "either"], "neither": ["no one", "none", "neither party", "no party"],
                                                             "Supplier": ["the Supplier", supplier_short], "Customer": ["the Customer"]}[p["convenience"]]},
             {"distractor": {"both": "neither", "neither": "both", "Supplier": "Customer", "Customer": "Supplier"}[p["convenience"]]}),
            ("sla-credit", f"In a month when measured availability is {availability}%, what service credit does Customer receive, as a percentage of the monthly Fees?",
             p["tiers"][1][2], {"kind": "number", "abs_tol": 0, "units": ["%", "percent"]}, {"distractor": str(p["tiers"][0][2])}),
            ("governing-law", "Which country's (or state's) law governs the Agreement?",
             p["law"].removeprefix("the "), {"kind": "regex", "pattern": p["law_pattern"], "flags": ["IGNORECASE"]}, {"distractor": "Delaware"}),
            ("breach-precedence", "Section 7 and Schedule B each set a deadline for notifying a Personal Data Breach. Applying the order-of-precedence clause, which clause's deadline prevails? Answer with the clause number (e.g. 7.5 or B-3).",
             prevailing, {"kind": "exact", "aliases": section_ref(prevailing) + (["Schedule B-3", "B3", "Schedule B, B-3", "Schedule B paragraph 3"] if prevailing == "B-3" else [])},
             {"distractor": "B-3" if p["body_prevails"] else w["breach"]}),
            ("payment-days", "Within how many days of the invoice date must Customer pay an undisputed invoice?",
             p["payment_days"], {"kind": "number", "abs_tol": 0, "units": ["days", "day"]}, {"distractor": str(p["suspend_days"])}),
            ("initial-term-fees", f"What is the total of the annual Fees over the whole Initial Term, in {cur}, before any renewal uplift?",
             p["fees"] * p["initial_months"] // 12, {"kind": "number", "rel_tol": 0.001}, {"distractor": str(p["fees"])}),
        ]
        for key, instruction, expected, checker, meta in pick_templates(templates, 4, index):
            tasks.append(task(f"legal-{index + 1:02d}-{key}", LEGAL, instruction, ctx, expected, checker, budget,
                              document=p["number"], **meta))
    return tasks


# -------------------------------------------------- long-log-incident-analysis

LOGS = "long-log-incident-analysis"
APP_SERVICES = ["checkout-svc", "payment-svc", "inventory-svc", "auth-svc", "search-svc", "cart-svc", "pricing-svc"]
ROUTES = {"checkout-svc": ["POST /checkout", "GET /checkout/status"], "payment-svc": ["POST /payments/authorize", "POST /payments/capture"],
          "inventory-svc": ["GET /inventory/stock", "POST /inventory/reserve"], "auth-svc": ["POST /token", "GET /userinfo"],
          "search-svc": ["GET /search", "GET /suggest"], "cart-svc": ["GET /cart", "PUT /cart/items"], "pricing-svc": ["GET /prices", "POST /quote"]}
MECHANISMS = {
    "slow-query": ("WARN", "slow query {ms}ms: SELECT * FROM {table} WHERE lower(code) = $1", "ERROR",
                   "db connection pool exhausted (active={pool}/{pool}, waiting={wait})", "a query that skips an index exhausts the connection pool"),
    "bad-config": ("WARN", "jwks refresh failed: GET https://idp.internal/.well-known/jwks-v2.json -> 404", "ERROR",
                   "token validation failed: no key for kid={kid}", "a wrong key-set URL in the new config rejects every token"),
    "retry-storm": ("WARN", "provider call timed out after {ms}ms, retrying immediately (attempt {attempt}/5)", "ERROR",
                    "provider circuit open: {wait} calls rejected in the last 10s", "retries without backoff overload the provider"),
    "cache-key": ("WARN", "cache miss ratio {ratio} over last 60s (expected < 0.2)", "ERROR",
                  "upstream query timeout after {ms}ms (db cpu {cpu}%)", "a changed cache key makes every read miss and floods the database"),
    "memory-leak": ("WARN", "heap usage {heap}% of limit after full GC", "ERROR",
                    "request aborted: worker restarting after OutOfMemoryError (rss {rss}MB)", "a leak in the new release exhausts worker memory"),
}


def log_incident(rng: random.Random, index: int) -> tuple[str, dict]:
    mechanism = list(MECHANISMS)[index]
    culprit = ["inventory-svc", "auth-svc", "payment-svc", "search-svc", "pricing-svc"][index]
    others = [s for s in APP_SERVICES if s != culprit]
    herring_deploy = rng.choice([s for s in others if s != "checkout-svc"])
    day = date(2024, 9 + index % 3, rng.randint(2, 27))
    start = datetime(day.year, day.month, day.day, rng.choice([6, 7, 8, 13, 14]), 0, 0)
    version = f"v{rng.randint(1, 4)}.{rng.randint(2, 30)}.{rng.randint(0, 9)}"
    commit = "".join(rng.choice("0123456789abcdef") for _ in range(7))
    herring_version = version
    while herring_version == version:
        herring_version = f"v{rng.randint(1, 4)}.{rng.randint(2, 30)}.{rng.randint(0, 9)}"
    herring_commit = "".join(rng.choice("0123456789abcdef") for _ in range(7))
    t_herring = start + timedelta(minutes=rng.randint(10, 25), seconds=rng.randint(0, 59))
    t_deploy = start + timedelta(minutes=rng.randint(55, 70), seconds=rng.randint(0, 59))
    t_first = t_deploy + timedelta(minutes=rng.randint(2, 6), seconds=rng.randint(0, 59))
    t_rollback = t_first + timedelta(minutes=rng.randint(18, 50), seconds=rng.randint(0, 59))
    t_end = start + timedelta(minutes=150)
    status = {"slow-query": 503, "bad-config": 401, "retry-storm": 502, "cache-key": 504, "memory-leak": 502}[mechanism]
    downstream = {"slow-query": ["checkout-svc", "cart-svc"], "bad-config": ["checkout-svc", "cart-svc", "search-svc"],
                  "retry-storm": ["checkout-svc"], "cache-key": ["cart-svc", "checkout-svc"], "memory-leak": ["checkout-svc", "cart-svc"]}[mechanism]
    events: list[tuple[datetime, str, str, str]] = []  # time, level, service, message

    def rid() -> str:
        return "".join(rng.choice("0123456789abcdef") for _ in range(8))

    t = start
    while t < t_end:  # ordinary traffic, health checks and housekeeping
        t += timedelta(seconds=rng.randint(14, 50), milliseconds=rng.randint(0, 999))
        service = rng.choice(APP_SERVICES + ["api-gateway"])
        kind = rng.random()
        if service == "api-gateway":
            upstream = rng.choice(APP_SERVICES)
            route = rng.choice(ROUTES[upstream])
            events.append((t, "INFO", service, f"[req={rid()}] {route} -> {upstream} 200 {rng.randint(12, 240)}ms"))
        elif kind < 0.7:
            route = rng.choice(ROUTES[service])
            events.append((t, "INFO", service, f"[req={rid()}] {route} 200 {rng.randint(3, 180)}ms"))
        elif kind < 0.85:
            events.append((t, "DEBUG", service, f"health check ok (uptime {rng.randint(1, 900)}h, goroutines {rng.randint(40, 400)})"))
        else:
            events.append((t, "INFO", service, rng.choice(["config reloaded (no changes)", "flushed metrics batch (512 points)",
                                                           f"gc pause {rng.randint(1, 40)}ms", "rotated access log",
                                                           f"feature flags synced ({rng.randint(20, 60)} flags)"])))
    # red herrings: a harmless deploy, cache evictions, an unrelated batch job killed for memory, a noisy node
    events.append((t_herring, "INFO", "deploy-bot", f"release {herring_deploy} {herring_version} (commit {herring_commit}) rolled out to 12/12 pods"))
    events.append((t_herring - timedelta(minutes=3), "INFO", "deploy-bot", f"release {herring_deploy} {herring_version} (commit {herring_commit}) started"))
    for k in range(rng.randint(3, 6)):
        events.append((start + timedelta(minutes=rng.randint(5, 140), seconds=rng.randint(0, 59)), "WARN", "redis-cache",
                       f"evicted {rng.randint(1000, 9000)} keys (maxmemory policy allkeys-lru, used_memory {rng.randint(88, 97)}%)"))
    events.append((start + timedelta(minutes=rng.randint(20, 45)), "WARN", "kubelet",
                   f"node ip-10-0-{rng.randint(1, 9)}-{rng.randint(10, 250)} MemoryPressure=True"))
    events.append((start + timedelta(minutes=rng.randint(30, 50)), "ERROR", "report-batch",
                   f"container killed: OOMKilled (limit 2048Mi) exit code 137; job nightly-export attempt {rng.randint(1, 3)}"))
    # the incident
    events.append((t_deploy - timedelta(minutes=4), "INFO", "deploy-bot", f"release {culprit} {version} (commit {commit}) started"))
    events.append((t_deploy, "INFO", "deploy-bot", f"release {culprit} {version} (commit {commit}) rolled out to 12/12 pods"))
    warn_level, warn_text, err_level, err_text, summary = MECHANISMS[mechanism]
    first_5xx = last_5xx = None
    t = t_deploy + timedelta(seconds=rng.randint(30, 90))
    while t < t_rollback + timedelta(seconds=90):
        fields = {"ms": rng.randint(2500, 30000), "table": "inventory_items", "pool": 50, "wait": rng.randint(20, 400),
                  "kid": rid()[:6], "attempt": rng.randint(1, 5), "ratio": f"0.{rng.randint(85, 99)}",
                  "cpu": rng.randint(92, 100), "heap": rng.randint(91, 99), "rss": rng.randint(1900, 2047)}
        if t < t_first:
            events.append((t, warn_level, culprit, warn_text.format(**fields)))
        else:
            events.append((t, err_level, culprit, err_text.format(**fields)))
            if rng.random() < 0.5:
                events.append((t + timedelta(milliseconds=rng.randint(5, 400)), warn_level, culprit, warn_text.format(**fields)))
            upstream = rng.choice(downstream)
            route = rng.choice(ROUTES[upstream])
            t5 = t + timedelta(milliseconds=rng.randint(400, 900))
            if t5 < t_rollback + timedelta(seconds=60):
                events.append((t5, "ERROR", upstream, f"[req={rid()}] {route} failed: dependency {culprit} returned {status}"))
                events.append((t5 + timedelta(milliseconds=3), "ERROR", "api-gateway", f"[req={rid()}] {route} -> {upstream} {status} {rng.randint(900, 30000)}ms"))
                first_5xx = first_5xx or t5 + timedelta(milliseconds=3)
                last_5xx = t5 + timedelta(milliseconds=3)
        t += timedelta(seconds=rng.randint(15, 60), milliseconds=rng.randint(0, 999))
    events.append((t_rollback - timedelta(minutes=2), "INFO", "oncall", f"paged: api-gateway {status} rate above 5% for 5m"))
    events.append((t_rollback, "INFO", "deploy-bot", f"rollback {culprit} to previous release (requested by on-call) rolled out to 12/12 pods"))
    events.sort(key=lambda e: e[0])
    lines = [f"{when:%Y-%m-%dT%H:%M:%S}.{when.microsecond // 1000:03d}Z {level:<5} {service:<14} {message}"
             for when, level, service, message in events]
    errors: dict[str, int] = {}
    window: set[str] = set()
    for when, level, service, _ in events:
        if level == "ERROR":
            errors[service] = errors.get(service, 0) + 1
            if first_5xx <= when <= last_5xx:
                window.add(service)
    p = {"culprit": culprit, "version": version, "commit": commit, "mechanism": mechanism, "summary": summary,
         "first_5xx": first_5xx, "last_5xx": last_5xx, "status": status, "errors": errors, "window": sorted(window),
         "deploys": 3, "herring": herring_deploy, "herring_version": herring_version, "day": day}
    return "\n".join(lines), p


def log_tasks(rng: random.Random, out: Path) -> list[dict]:
    budget = {"max_calls": 60, "max_tokens": 300_000, "max_seconds": 1200}
    tasks = []
    for index in range(5):
        text, p = log_incident(rng, index)
        ctx = write_document(out, f"incident-{index + 1:02d}.log.txt", text)
        minutes = round((p["last_5xx"] - p["first_5xx"]).total_seconds() / 60)
        first = p["first_5xx"]
        templates = [
            ("culprit", "These are a production system's logs around an outage. Which service's release triggered the outage? Answer with the service name.",
             p["culprit"], {"kind": "exact"}, {"distractor": p["herring"]}),
            ("version", "Which release version (e.g. v1.2.3) triggered the outage?",
             p["version"], {"kind": "regex", "pattern": r"(?<![\w.])v?" + re.escape(p["version"][1:]) + r"(?![\w.]\d)"}, {"distractor": p["herring_version"]}),
            ("duration", "How many minutes did the outage last, from the first HTTP 5xx (or 401) response logged by api-gateway to the last one? Round to whole minutes.",
             minutes, {"kind": "number", "abs_tol": 1, "units": ["minutes", "min", "mins", "minute"]}, {"distractor": str(minutes + 15)}),
            ("culprit-errors", f"How many ERROR lines does {p['culprit']} log in this file?",
             p["errors"][p["culprit"]], {"kind": "number", "abs_tol": 0}, {"distractor": str(p["errors"][p["culprit"]] + 7)}),
            ("error-services", "Which services log at least one ERROR line between the first and the last failed response at api-gateway (inclusive)? List the service names.",
             p["window"], {"kind": "set", "score": "f1"}, {"distractor": "report-batch, redis-cache"}),
            ("first-failure", "At what time (UTC, HH:MM) does api-gateway log its first failed response of the outage?",
             f"{first:%H:%M}", {"kind": "regex", "pattern": rf"(?<!\d){first:%H:%M}(?!\d)"}, {"distractor": f"{p['first_5xx'] - timedelta(minutes=9):%H:%M}"}),
            ("status-code", "Which HTTP status code does api-gateway return for the failed requests during the outage?",
             p["status"], {"kind": "number", "abs_tol": 0}, {"distractor": "200"}),
            ("commit", "Which commit (short hash) was the release that triggered the outage built from?",
             p["commit"], {"kind": "regex", "pattern": rf"\b{p['commit']}[0-9a-f]*\b"}, {"distractor": "0000000"}),
            ("mechanism", "The outage came from a release. What failed? Answer with the one ERROR message text (without the timestamp, level and service) that the culprit service repeats.",
             MECHANISMS[p["mechanism"]][3].split(":")[0].split("(")[0].split("{")[0].strip(),
             {"kind": "regex", "flags": ["IGNORECASE"], "pattern": _regex_words(MECHANISMS[p["mechanism"]][3].split(":")[0].split("(")[0].split("{")[0].strip())},
             {"distractor": "container killed: OOMKilled"}),
        ]
        for key, instruction, expected, checker, meta in pick_templates(templates, 5, index):
            tasks.append(task(f"logs-{index + 1:02d}-{key}", LOGS, instruction, ctx, expected, checker, budget,
                              mechanism=p["mechanism"], **meta))
    return tasks


def _regex_words(phrase: str) -> str:
    """A pattern for a phrase, its words in order with any spacing between them."""
    return r"\s+".join(word.replace(".", r"\.") for word in phrase.split())


# -------------------------------------------------------- codebase-bug-triage

BUGS = "codebase-bug-triage"
AUTHORS = ["mira.okafor", "j.lindqvist", "tomasz.r", "anjali.k", "dev-bot", "s.hartmann", "luis.m", "priya.n"]
COMMIT_WORDS = ["refactor", "tidy", "speed up", "document", "handle", "rename", "simplify", "test", "log", "validate"]


def _hex(rng: random.Random, n: int = 7) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def bug_case(rng: random.Random, index: int) -> tuple[str, dict]:
    """A service's code with one planted bug, a bug report, a CI run and the git log."""
    repo = ["ledgerline", "tollgate", "parcelkit", "meterwise", "quotaflow"][index]
    kind = ["proration", "discount", "pagination", "tiers", "rounding"][index]
    pkg = repo
    files: list[tuple[str, list[str]]] = []
    callers: list[str] = []

    # --- shared modules
    models = [
        '"""Value types shared by the service."""', "", "from __future__ import annotations", "",
        "from dataclasses import dataclass, field", "from datetime import date", "", "",
        "@dataclass(frozen=True)", "class Plan:", "    code: str", "    price_cents: int", "    period_days: int = 30", "",
        "", "@dataclass", "class Subscription:", "    id: str", "    plan: Plan", "    start: date",
        "    cancelled_on: date | None = None", "    seats: int = 1", "", "",
        "@dataclass", "class LineItem:", "    description: str", "    amount_cents: int", "    quantity: int = 1", "",
        "    @property", "    def total_cents(self) -> int:", "        return self.amount_cents * self.quantity", "", "",
        "@dataclass", "class Invoice:", "    subscription_id: str", "    items: list[LineItem] = field(default_factory=list)", "",
        "    @property", "    def total_cents(self) -> int:", "        return sum(item.total_cents for item in self.items)",
    ]
    files.append((f"{pkg}/models.py", models))
    util = [
        '"""Small helpers with no domain knowledge."""', "", "from __future__ import annotations", "",
        "import calendar", "from datetime import date, timedelta", "", "",
        "def days_in_month(day: date) -> int:", "    return calendar.monthrange(day.year, day.month)[1]", "", "",
        "def month_start(day: date) -> date:", "    return day.replace(day=1)", "", "",
        "def month_end(day: date) -> date:", "    return day.replace(day=days_in_month(day))", "", "",
        "def daterange(start: date, end: date):", '    """Every day from start to end, both included."""', "    day = start",
        "    while day <= end:", "        yield day", "        day += timedelta(days=1)", "", "",
        "def clamp(value: int, low: int, high: int) -> int:", "    return max(low, min(high, value))", "", "",
        "def cents(amount: str) -> int:", '    """\'12.34\' -> 1234; no floats on the way."""', '    whole, _, frac = amount.partition(".")',
        '    return int(whole) * 100 + int((frac + "00")[:2])', "", "",
        "def format_cents(value: int) -> str:", '    return f"{value // 100}.{value % 100:02d}"',
    ]
    files.append((f"{pkg}/util.py", util))

    # --- the module with the bug; each kind: the function, its correct and buggy line, and a calculator
    if kind == "proration":
        module, func = "proration", "prorated_charge"
        body = ["def prorated_charge(plan: Plan, period_start: date, cancelled_on: date) -> int:",
                '    """The charge, in cents, for the days of the period used up to and including the cancellation day."""',
                "    period_days = days_in_month(period_start)",
                "    days_used = (cancelled_on - period_start).days",
                "    return plan.price_cents * days_used // period_days"]
        bug_line_text = "    days_used = (cancelled_on - period_start).days"
        fix = "(cancelled_on - period_start).days + 1"
        price = rng.choice([2900, 3000, 4500, 6000, 9900])
        month = rng.choice([4, 6, 9, 11])
        report_day, ask_day = rng.randint(5, 12), rng.randint(14, 27)
        correct = lambda d: price * d // 30  # noqa: E731  (30-day months chosen)
        buggy = lambda d: price * (d - 1) // 30  # noqa: E731
        report = (f"prorated_charge(Plan('pro', {price}), date(2024, {month}, 1), date(2024, {month}, {report_day}))",
                  correct(report_day), buggy(report_day))
        ask = (f"prorated_charge(Plan('pro', {price}), date(2024, {month}, 1), date(2024, {month}, {ask_day}))", correct(ask_day))
        symptom = "customers who cancel are charged one day less than they used"
    elif kind == "discount":
        module, func = "discounts", "apply_discount"
        body = ["def apply_discount(amount_cents: int, percent: int) -> int:",
                '    """The amount after a percentage discount, rounded down to the cent."""',
                "    percent = clamp(percent, 0, 100)",
                "    discount = amount_cents * (percent // 100)",
                "    return amount_cents - discount"]
        bug_line_text = "    discount = amount_cents * (percent // 100)"
        fix = "amount_cents * percent // 100"
        amount, pct, ask_amount, ask_pct = rng.choice([12000, 4990, 25000]), rng.choice([10, 15, 20]), rng.choice([8000, 15990, 33300]), rng.choice([5, 25, 30])
        report = (f"apply_discount({amount}, {pct})", amount - amount * pct // 100, amount)
        ask = (f"apply_discount({ask_amount}, {ask_pct})", ask_amount - ask_amount * ask_pct // 100)
        symptom = "coupon codes are accepted but the invoice total does not change"
    elif kind == "pagination":
        module, func = "pagination", "collect_pages"
        body = ["def collect_pages(fetch, total_items: int, page_size: int = 50) -> list:",
                '    """Every item, fetching pages 1..N where N is the number of pages needed."""',
                "    pages = -(-total_items // page_size)",
                "    items = []",
                "    for page in range(1, pages):",
                "        items.extend(fetch(page=page, size=page_size))",
                "    return items"]
        bug_line_text = "    for page in range(1, pages):"
        fix = "range(1, pages + 1)"
        total, size = rng.choice([230, 420, 1075]), rng.choice([50, 100])
        ask_total, ask_size = rng.choice([333, 1201, 99]), rng.choice([25, 40])
        pages = -(-total // size)
        report = (f"len(collect_pages(fetch, {total}, {size}))", total, min(total, (pages - 1) * size))
        ask = (f"the number of fetch calls collect_pages(fetch, {ask_total}, {ask_size}) makes once fixed", -(-ask_total // ask_size))
        symptom = "exports are missing the last page of records"
    elif kind == "tiers":
        module, func = "tiers", "usage_charge"
        limit, low, high = rng.choice([1000, 5000, 10000]), rng.choice([2, 3]), rng.choice([5, 6])
        body = ["TIER_LIMIT = %d  # the most units billed at the base rate" % limit,
                "", "",
                "def usage_charge(units: int, base_cents: int = %d, overage_cents: int = %d) -> int:" % (low, high),
                '    """Volume pricing: up to and including TIER_LIMIT units, every unit costs base_cents; above it, every unit costs overage_cents."""',
                "    if units >= TIER_LIMIT:",
                "        return units * overage_cents",
                "    return units * base_cents"]
        bug_line_text = "    if units >= TIER_LIMIT:"
        fix = "units > TIER_LIMIT"
        extra = rng.choice([1, 250, 1200])
        report = (f"usage_charge({limit})", limit * low, limit * high)
        ask = (f"usage_charge({limit}) + usage_charge({limit + extra})", limit * low + (limit + extra) * high)
        symptom = "customers whose usage lands exactly on the tier limit are billed overage"
    else:
        module, func = "tax", "tax_cents"
        rate = rng.choice([5, 15, 25])
        body = ["TAX_RATE_PERCENT = %d" % rate, "", "",
                "def tax_cents(net_cents: int) -> int:",
                '    """Tax on a net amount, rounded half up to the cent as the tax authority requires."""',
                "    return round(net_cents * TAX_RATE_PERCENT / 100)"]
        bug_line_text = "    return round(net_cents * TAX_RATE_PERCENT / 100)"
        fix = "(net_cents * TAX_RATE_PERCENT + 50) // 100"
        candidates = [n for n in range(10, 2000) if (n * rate) % 100 == 50 and round(n * rate / 100) < (n * rate + 50) // 100]
        net, ask_net = candidates[rng.randint(0, 5)], rng.choice([n for n in range(2001, 9000) if (n * rate) % 100 == 50])
        report = (f"tax_cents({net})", (net * rate + 50) // 100, round(net * rate / 100))
        ask = (f"tax_cents({ask_net})", (ask_net * rate + 50) // 100)
        symptom = "invoice tax is sometimes one cent lower than the tax authority's calculation"

    helpers = {
        "proration": ["def period_end(period_start: date) -> date:", "    return month_end(period_start)", "", "",
                      "def is_first_period(subscription: Subscription, period_start: date) -> bool:",
                      "    return subscription.start >= period_start", "", "",
                      "def refund_cents(plan: Plan, charged_cents: int, period_start: date, cancelled_on: date) -> int:",
                      "    return max(0, charged_cents - prorated_charge(plan, period_start, cancelled_on))"],
        "discount": ["def stack_discounts(amount_cents: int, percents: list[int]) -> int:",
                     "    for percent in percents:", "        amount_cents = apply_discount(amount_cents, percent)", "    return amount_cents", "", "",
                     "def parse_coupon(code: str) -> int:", '    """\'SAVE15\' -> 15."""', '    digits = "".join(ch for ch in code if ch.isdigit())',
                     "    return int(digits or 0)"],
        "pagination": ["def page_count(total_items: int, page_size: int) -> int:", "    return -(-total_items // page_size)", "", "",
                       "def export_all(client, kind: str) -> list:", "    total = client.count(kind)",
                       "    return collect_pages(lambda page, size: client.list(kind, page=page, size=size), total)"],
        "tiers": ["def describe_tiers() -> str:", '    return f"first {TIER_LIMIT} units at base rate, then overage"', "", "",
                  "def monthly_usage_charge(daily_units: list[int]) -> int:", "    return usage_charge(sum(daily_units))"],
        "rounding": ["def gross_cents(net_cents: int) -> int:", "    return net_cents + tax_cents(net_cents)", "", "",
                     "def tax_breakdown(lines: list[int]) -> dict:",
                     '    return {"net": sum(lines), "tax": sum(tax_cents(n) for n in lines)}'],
    }[kind]
    header = ['"""%s for the %s service."""' % (module.capitalize(), repo), "", "from __future__ import annotations", "",
              "from datetime import date", "", f"from {pkg}.models import Plan, Subscription",
              f"from {pkg}.util import clamp, days_in_month, month_end", "", ""]
    bug_file = header + body + ["", ""] + helpers
    files.append((f"{pkg}/{module}.py", bug_file))
    callers_local = {"proration": ["refund_cents"], "discount": ["stack_discounts"], "pagination": ["export_all"],
                     "tiers": ["monthly_usage_charge"], "rounding": ["gross_cents", "tax_breakdown"]}[kind]
    invoicing = [
        '"""Building invoices from subscriptions."""', "", "from __future__ import annotations", "",
        "from datetime import date", "", f"from {pkg} import {module}", f"from {pkg}.models import Invoice, LineItem, Subscription", "", "",
        "def invoice_for(subscription: Subscription, period_start: date) -> Invoice:",
        "    invoice = Invoice(subscription.id)",
        '    invoice.items.append(LineItem(f"{subscription.plan.code} plan", subscription.plan.price_cents, subscription.seats))',
        "    return invoice", "", "",
        "def close_period(subscription: Subscription, period_start: date) -> Invoice:",
        "    invoice = invoice_for(subscription, period_start)",
        f"    amount = {module}.{func}(" + {"proration": "subscription.plan, period_start, subscription.cancelled_on or period_start)",
                                           "discount": "invoice.total_cents, 10)", "pagination": "lambda page, size: [], 0)",
                                           "tiers": "subscription.seats * 100)", "rounding": "invoice.total_cents)"}[kind],
        '    invoice.items.append(LineItem("adjustment", amount if isinstance(amount, int) else 0))',
        "    return invoice", "", "",
        "def preview(subscription: Subscription, period_start: date) -> str:",
        "    invoice = close_period(subscription, period_start)",
        '    return f"{invoice.subscription_id}: {invoice.total_cents} cents"',
    ]
    files.append((f"{pkg}/invoicing.py", invoicing))
    callers = sorted(callers_local + ["close_period"])
    api = ['"""HTTP handlers (framework glue only)."""', "", "from __future__ import annotations", "",
           f"from {pkg}.invoicing import preview", "", ""]
    for route in ["health", "version", "preview_invoice", "list_plans", "metrics"]:
        api += [f"def {route}(request) -> dict:",
                f'    """GET /{route.replace("_", "/")}."""',
                '    if request.get("auth") is None:', '        return {"status": 401}',
                ('    return {"status": 200, "body": preview(request["subscription"], request["period_start"])}' if route == "preview_invoice"
                 else f'    return {{"status": 200, "body": "{route} ok"}}'), "", ""]
    files.append((f"{pkg}/api.py", api[:-2]))

    tests = ['"""Tests of %s."""' % module, "", "from datetime import date", "", f"from {pkg}.{module} import {func}",
             f"from {pkg}.models import Plan", "", ""]
    test_names = []
    for k in range(rng.randint(5, 8)):
        name = f"test_{func}_{['basic', 'zero', 'full_period', 'large_values', 'typical', 'repeat', 'edge', 'regression'][k]}"
        test_names.append(name)
        tests += [f"def {name}():", f"    assert {func} is not None  # see CI output for the values", "", ""]
    files.append((f"tests/test_{module}.py", tests[:-2]))

    # where the bug is: its line number in the listing
    bug_path = f"{pkg}/{module}.py"
    bug_line = bug_file.index(bug_line_text) + 1

    # git log: the introducing commit touches the bug file with an innocent message
    commits = []
    when = datetime(2024, rng.randint(3, 8), rng.randint(1, 28), 9, 0)
    introduced = _hex(rng)
    bad_at = rng.randint(6, 14)
    for k in range(22):
        when += timedelta(hours=rng.randint(3, 60), minutes=rng.randint(0, 59))
        if k == bad_at:
            commits.append((introduced, rng.choice(AUTHORS), when, f"{rng.choice(['simplify', 'tidy', 'refactor'])} {module} helpers", [bug_path]))
        else:
            touched = rng.choice([f"{pkg}/api.py", f"{pkg}/util.py", f"{pkg}/invoicing.py", "README.md", "pyproject.toml",
                                  f"tests/test_{module}.py", ".github/workflows/ci.yml"])
            commits.append((_hex(rng), rng.choice(AUTHORS), when, f"{rng.choice(COMMIT_WORDS)} {touched.rsplit('/', 1)[-1].removesuffix('.py')}", [touched]))
    commits.reverse()
    failing = sorted(rng.sample(test_names, rng.randint(1, min(3, len(test_names) - 1))))

    out = [f"REPOSITORY {repo} (excerpt)", "=" * 40, "",
           f"ISSUE #{rng.randint(100, 999)}: {symptom}", "",
           wrap(f"Reported by the billing operations team. Since the last release, {symptom}. We checked a sample of "
                "accounts by hand; the numbers below come from a reproduction in a Python shell on the main branch."),
           "", f"    >>> {report[0]}", f"    {report[2]}", f"    # expected {report[1]}", "",
           wrap("Nothing in the changelog mentions this area. Please find the root cause, the commit that introduced it, "
                "and confirm what the function should return."), "", "CI RUN (main, latest)", "-" * 40]
    for module_name in ["models", "util", module, "invoicing", "api"]:
        for k in range(rng.randint(4, 9)):
            out.append(f"tests/test_{module_name}.py::test_{module_name}_{k:02d} PASSED")
    for name in test_names:
        out.append(f"tests/test_{module}.py::{name} {'FAILED' if name in failing else 'PASSED'}")
    for name in failing:
        out += [f"_____ {name} _____", f"    assert {report[0]} == {report[1]}", f"E   AssertionError: assert {report[2]} == {report[1]}"]
    out += [f"===== {len(failing)} failed, many passed in {rng.randint(3, 40)}.{rng.randint(10, 99)}s =====", "", "GIT LOG (newest first)", "-" * 40]
    for sha, author, at, message, touched in commits:
        out += [f"commit {sha}{_hex(rng, 33)}", f"Author: {author} <{author}@{repo}.dev>", f"Date:   {DAYS[at.weekday()]} {MONTHS[at.month - 1][:3]} {at:%d %H:%M:%S %Y} +0000", "",
                f"    {message}", "", *(f"    M  {t}" for t in touched), ""]
    out += ["SOURCE FILES", "-" * 40, ""]
    for path, source in files:
        out.append(f"=== {path} ===")
        out += [f"{n:4d} | {line}".rstrip() for n, line in enumerate(source, start=1)]
        out.append("")
    # a longer listing: vendored helpers nobody suspects, to push the document past what one window holds
    filler = [f"{pkg}/vendor/retry.py", f"{pkg}/vendor/settings.py", f"{pkg}/audit.py"]
    for path in filler:
        out.append(f"=== {path} ===")
        n = 0
        for k in range(rng.randint(14, 20)):
            name = f"{rng.choice(['load', 'save', 'check', 'emit', 'wait', 'parse', 'merge'])}_{rng.choice(['config', 'event', 'record', 'token', 'batch', 'window'])}_{k}"
            for line in [f"def {name}(value, *, attempts: int = {rng.randint(2, 6)}):",
                         f'    """{rng.choice(["Retry", "Validate", "Record", "Normalise"])} {name.split("_")[1]} values; never raises on bad input."""',
                         "    for attempt in range(attempts):", "        if value is not None:", "            return value",
                         f"        value = {rng.choice(['None', 'value', '{}', '[]'])}", "    return value", "", ""]:
                n += 1
                out.append(f"{n:4d} | {line}".rstrip())
        out.append("")
    p = {"repo": repo, "kind": kind, "func": func, "path": bug_path, "line": bug_line, "introduced": introduced,
         "report": report, "ask": ask, "failing": failing, "callers": callers, "fix": fix, "module": module}
    return "\n".join(out), p


def bug_tasks(rng: random.Random, out: Path) -> list[dict]:
    budget = {"max_calls": 40, "max_tokens": 200_000, "max_seconds": 900}
    tasks = []
    for index in range(5):
        text, p = bug_case(rng, index)
        ctx = write_document(out, f"{p['repo']}.txt", text)
        templates = [
            ("function", "Which function contains the root cause of the reported bug? Answer with the function name only.",
             p["func"], {"kind": "exact", "aliases": [f"{p['func']}()", f"{p['module']}.{p['func']}", f"{p['path']}::{p['func']}"]}, {"distractor": p["callers"][0]}),
            ("file", "Which file holds the faulty line? Answer with its path as listed.",
             p["path"], {"kind": "exact", "aliases": [p["path"].split("/", 1)[1]]}, {"distractor": f"{p['repo']}/invoicing.py"}),
            ("commit", "Which commit introduced the bug? Answer with its hash (the first 7 characters are enough).",
             p["introduced"], {"kind": "regex", "pattern": rf"\b{p['introduced']}[0-9a-f]*\b"}, {"distractor": "deadbee"}),
            ("line", f"At which line number of {p['path']} (as numbered in the listing) is the faulty statement?",
             p["line"], {"kind": "number", "abs_tol": 0}, {"distractor": str(p["line"] + 3)}),
            ("fixed-value", f"Once the bug is fixed, what is the value of {p['ask'][0]}? Answer with the number.",
             p["ask"][1], {"kind": "number", "abs_tol": 0}, {"distractor": str(p["ask"][1] + 1)}),
            ("failing-tests", "Which tests fail in the latest CI run? List their names (the part after ::).",
             p["failing"], {"kind": "set", "score": "f1"}, {"distractor": "test_models_00"}),
            ("callers", f"Which functions in the listed source files call {p['func']} directly? List their names.",
             p["callers"], {"kind": "set", "score": "f1"}, {"distractor": "invoice_for, preview"}),
        ]
        for key, instruction, expected, checker, meta in pick_templates(templates, 5, index):
            tasks.append(task(f"bugs-{index + 1:02d}-{key}", BUGS, instruction, ctx, expected, checker, budget,
                              repository=p["repo"], bug=p["kind"], **meta))
    return tasks


# ------------------------------------------------------------------ multi-doc-qa

MDQA = "multi-doc-qa"
COMPANY_SETS = [
    ["Quillon Software", "Brightwater Cloud", "Osprey Data"],
    ["Kestrel Payments", "Lumen Health Systems", "Norwood Robotics"],
    ["Arbor Analytics", "Cinder Security", "Fathom Networks"],
    ["Harrow Logistics Tech", "Juniper Learning", "Marlow Energy Software"],
]
FIRST = ["Dana", "Elliot", "Farah", "Gideon", "Hana", "Ivo", "Jonas", "Keiko", "Lars", "Mireille", "Nadia", "Omar", "Petra", "Ravi", "Sofia", "Tobias"]
LAST = ["Achterberg", "Brennan", "Castellano", "Delacroix", "Eriksen", "Fontaine", "Gallagher", "Haddad", "Iwasaki", "Jovanovic",
        "Kowalczyk", "Lindgren", "Moreau", "Nakamura", "Okonkwo", "Petrov", "Quintero", "Rasmussen", "Sørensen", "Thorne"]
ANALYSTS = ["Morgan Stanhope", "Barclay & Finch", "Redline Capital", "Northgate Securities", "Ashby Research", "Kline Partners"]
THEMES = ["pipeline coverage", "net revenue retention", "sales hiring", "the partner channel", "pricing and packaging",
          "AI features in the roadmap", "public-sector demand", "European expansion", "gross margin trajectory", "large-deal timing"]
FILLER_REMARKS = [
    "We continued to see healthy engagement across our installed base, with usage growing faster than seats in most segments.",
    "Our teams stayed disciplined on expenses while we kept investing in the product areas our customers ask for most.",
    "Sales cycles remain somewhat elongated for the largest deals, which we have factored into how we plan the rest of the year.",
    "Customer satisfaction scores improved again this quarter, and our support backlog is at its lowest level in two years.",
    "We shipped more than forty product improvements in the quarter, several of them requested directly by our customer advisory board.",
    "Our partner ecosystem contributed a growing share of new logos, particularly in mid-market accounts.",
    "We remain focused on durable, efficient growth rather than growth at any cost.",
    "Hiring is on plan, and attrition in our go-to-market teams was the lowest we have recorded.",
    "Macro conditions are broadly unchanged from what we described last quarter; we are not assuming any improvement.",
    "The migration of our largest customers to the new platform architecture is now more than two-thirds complete.",
    "Renewal rates held up well, and the renewals that slipped did so on timing rather than on intent.",
    "In our largest region we added a new leader who brings deep experience selling to regulated industries.",
    "We are seeing customers consolidate vendors, and more often than not that consolidation is coming our way.",
    "Our free-to-paid conversion improved after we simplified onboarding and shortened the time to first value.",
    "Security and compliance certifications remain a gating item in enterprise deals, and we completed two more this quarter.",
    "We continue to be thoughtful about capital allocation, balancing investment in growth with returns to shareholders.",
    "Linearity in the quarter was better than last year, with less of the business closing in the final two weeks.",
    "Our product-led motion is now a meaningful source of pipeline for the enterprise sales team.",
    "We reorganised customer success around outcomes rather than activity, and early results are encouraging.",
    "Expansion within existing accounts was the largest contributor to new bookings, as it has been for several quarters.",
    "We saw some softness among smaller customers, which we attribute to tighter budgets rather than to competition.",
    "The pricing changes we introduced at the start of the year have been well received, with minimal churn impact.",
    "Our research and development spending as a share of revenue will stay roughly stable through the year.",
    "We opened a new data centre region to serve customers with data residency requirements.",
]
FOLLOW_UPS = [
    "And if I could squeeze in a quick follow-up: how should we think about seasonality in the second half?",
    "As a follow-up, is there anything unusual in the quarter's billings that we should keep in mind?",
    "Just to follow up, has anything changed in how you are hiring quota-carrying reps?",
    "One follow-up, if I may: how much of this is already visible in your pipeline today?",
    "And a quick follow-up on margins: are there any one-off costs in the quarter?",
]


def _person(rng: random.Random, used: set[str]) -> str:
    while True:
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        if name not in used:
            used.add(name)
            return name


def transcript(rng: random.Random, company: str, quarter: int, facts: dict, people: dict, one_time: float | None) -> str:
    fy = 2024
    ceo, cfo = people["ceo"], people["cfo"]
    low, high = facts["guidance"]
    previous = facts.get("previous_guidance")
    lines = [f"{company.upper()} - Q{quarter} FY{fy} EARNINGS CALL TRANSCRIPT", f"Date: {['', 'May', 'August'][quarter]} {rng.randint(2, 28)}, {fy}", "",
             "PARTICIPANTS", f"  {ceo} - Chief Executive Officer", f"  {cfo} - Chief Financial Officer",
             f"  {people['ir']} - Head of Investor Relations", "", "OPERATOR", "",
             wrap(f"Good afternoon and welcome to {company}'s first-{['', 'quarter', 'half and second-quarter'][quarter]} fiscal {fy} "
                  "earnings conference call. All participants are in listen-only mode. After the prepared remarks we will hold a "
                  f"question-and-answer session. I will now hand the call to {people['ir']}."), "",
             f"{people['ir'].upper()}", "",
             wrap("Thank you. Statements on this call about future performance are forward-looking and subject to risks described in "
                  "our filings. We will discuss non-GAAP measures; reconciliations are in the press release on our website."), "",
             f"{ceo.upper()} (CEO)", ""]
    remarks = rng.sample(FILLER_REMARKS, len(FILLER_REMARKS))
    lines += [wrap(f"Thanks, everyone, for joining. Q{quarter} was a {rng.choice(['solid', 'strong', 'steady', 'good'])} quarter for {company}. "
                   f"We ended the quarter with {facts['customers']:,} customers, and annual recurring revenue passed "
                   f"${facts['arr']:.1f} million."), ""]
    for remark in remarks[:7]:
        lines += [wrap(remark), ""]
    lines += [wrap(f"Let me hand over to {cfo}, our CFO, for the numbers."), "", f"{cfo.upper()} (CFO)", "",
              wrap(f"Thank you. Total revenue for the quarter was ${facts['revenue']:.1f} million, "
                   f"{'up' if facts['yoy'] >= 0 else 'down'} {abs(facts['yoy']):.0f}% year over year. Non-GAAP gross margin was "
                   f"{facts['margin']:.1f}%, and we ended the quarter with {facts['headcount']:,} employees."), ""]
    for remark in remarks[7:10]:
        lines += [wrap(remark), ""]
    if previous is None:
        lines += [wrap(f"For the full fiscal year {fy} we expect revenue in the range of ${low:.0f} million to ${high:.0f} million."), ""]
    else:
        verb = ("raising" if (low + high) > sum(previous) else "lowering" if (low + high) < sum(previous)
                else "narrowing" if high - low < previous[1] - previous[0] else "reiterating")
        lines += [wrap(f"Turning to the outlook. We are {verb} our full-year fiscal {fy} revenue guidance: we now expect revenue "
                       f"between ${low:.0f} million and ${high:.0f} million."), ""]
    lines += [wrap("With that, operator, please open the line for questions."), "", "QUESTION-AND-ANSWER SESSION", ""]
    themes = rng.sample(THEMES, 10)
    for k, theme in enumerate(themes):
        analyst = rng.choice(ANALYSTS)
        asker = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        lines += [f"{asker.upper()} ({analyst})", "",
                  wrap(f"Thanks for taking my question. Could you say more about {theme}, and how it shaped the quarter and your outlook? "
                       + rng.choice(FOLLOW_UPS)), ""]
        answerer = ceo if k % 2 == 0 else cfo
        lines += [f"{answerer.upper()} ({'CEO' if answerer == ceo else 'CFO'})", ""]
        body = f"Sure. On {theme}, " + " ".join(rng.sample(FILLER_REMARKS, 5)).replace("We ", "we ", 1)
        if one_time is not None and k == 4:
            body += (f" One thing I should be clear about: the quarter's revenue includes a one-time catch-up payment of "
                     f"${one_time:.1f} million from a customer contract dispute that settled in the quarter. It will not recur, "
                     "and our full-year guidance does not assume anything like it again.")
        lines += [wrap(body), ""]
    lines += ["OPERATOR", "", wrap("That concludes the question-and-answer session. Thank you for attending; you may now disconnect."), ""]
    return "\n".join(lines)


def mdqa_tasks(rng: random.Random, out: Path) -> list[dict]:
    budget = {"max_calls": 60, "max_tokens": 300_000, "max_seconds": 1200}
    tasks = []
    for index, companies in enumerate(COMPANY_SETS):
        used: set[str] = set()
        facts: dict[str, dict[int, dict]] = {}
        people: dict[str, dict] = {}
        one_time_company = rng.choice(companies)
        one_time = round(rng.uniform(8, 35), 1)
        movements = ["narrow", *rng.sample(["raise", "lower", "reiterate"], 2)]
        rng.shuffle(movements)
        files = []
        for company, movement in zip(companies, movements):
            people[company] = {"ceo": _person(rng, used), "cfo": _person(rng, used), "ir": _person(rng, used)}
            q1_rev = round(rng.uniform(60, 400), 1)
            q2_rev = round(q1_rev * rng.uniform(1.01, 1.12), 1) + (one_time if company == one_time_company else 0)
            q2_rev = round(q2_rev, 1)
            mid = round(q1_rev * 4 * rng.uniform(1.0, 1.15) / 5) * 5
            width = rng.choice([20, 30, 40])
            g1 = (mid - width / 2, mid + width / 2)
            shift = rng.choice([10, 15, 20])
            g2 = {"raise": (g1[0] + shift, g1[1] + shift), "lower": (g1[0] - shift, g1[1] - shift),
                  "narrow": (g1[0] + 5, g1[1] - 5), "reiterate": g1}[movement]
            facts[company] = {}
            for quarter, revenue, guidance in ((1, q1_rev, g1), (2, q2_rev, g2)):
                f = {"revenue": revenue, "guidance": guidance, "customers": rng.randint(800, 9000),
                     "arr": revenue * 4 * rng.uniform(1.0, 1.2), "yoy": rng.uniform(-3, 35), "margin": rng.uniform(62, 84),
                     "headcount": rng.randint(400, 5000), "previous_guidance": g1 if quarter == 2 else None}
                facts[company][quarter] = f
                name = f"set{index + 1}-{company.lower().replace(' ', '-')}-q{quarter}.txt"
                text = transcript(rng, company, quarter, f, people[company],
                                  one_time if (company == one_time_company and quarter == 2) else None)
                (out / "docs" / name).write_text(text + "\n", encoding="utf-8")
                files.append(f"docs/{name}")
            facts[company]["movement"] = movement
        ctx = {"files": files}
        mid = lambda g: (g[0] + g[1]) / 2  # noqa: E731
        a, b, c = companies
        shift_company = next(x for x in companies if facts[x]["movement"] in ("raise", "lower"))
        q2 = {x: facts[x][2]["revenue"] for x in companies}
        top = max(companies, key=lambda x: q2[x])
        raised = [x for x in companies if mid(facts[x][2]["guidance"]) > mid(facts[x][1]["guidance"])] or None
        growth_company = rng.choice([x for x in companies if x != one_time_company])
        growth = round((facts[growth_company][2]["revenue"] / facts[growth_company][1]["revenue"] - 1) * 100, 1)
        cfo_company = rng.choice(companies)
        cfo_last = people[cfo_company]["cfo"].split()[-1]
        width_change = {x: (facts[x][2]["guidance"][1] - facts[x][2]["guidance"][0]) - (facts[x][1]["guidance"][1] - facts[x][1]["guidance"][0]) for x in companies}
        narrowed = min(companies, key=lambda x: width_change[x])
        templates = [
            ("midpoint-change", f"By how many million dollars did {shift_company} move the midpoint of its full-year FY2024 revenue guidance between its Q1 and Q2 calls? Give a negative number for a cut.",
             mid(facts[shift_company][2]["guidance"]) - mid(facts[shift_company][1]["guidance"]), {"kind": "number", "abs_tol": 0.05}, {"distractor": "0"}),
            ("top-revenue", "Which of the three companies reported the highest total revenue for Q2? Answer with the company name.",
             top, {"kind": "exact", "aliases": [top.split()[0]]}, {"distractor": min(companies, key=lambda x: q2[x])}),
            ("one-time-net", f"What was {one_time_company}'s Q2 revenue in million dollars once the one-time item disclosed on its Q2 call is taken out?",
             round(facts[one_time_company][2]["revenue"] - one_time, 1), {"kind": "number", "abs_tol": 0.05, "units": ["million", "m"]},
             {"distractor": str(facts[one_time_company][2]["revenue"])}),
            ("combined-q2", "What was the combined Q2 revenue of the three companies, in million dollars?",
             round(sum(q2.values()), 1), {"kind": "number", "abs_tol": 0.15}, {"distractor": str(round(sum(facts[x][1]["revenue"] for x in companies), 1))}),
            ("cfo", f"Who is {cfo_company}'s Chief Financial Officer? Answer with the full name.",
             people[cfo_company]["cfo"], {"kind": "regex", "flags": ["IGNORECASE"], "pattern": rf"\b{cfo_last}\b"}, {"distractor": people[cfo_company]["ceo"]}),
            ("raised", "Which companies raised the midpoint of their full-year FY2024 revenue guidance between the Q1 and Q2 calls? List them (answer 'none' if none did).",
             raised or ["none"], {"kind": "set", "score": "f1"}, {"distractor": ", ".join(companies)}),
            ("q2-growth", f"By what percentage did {growth_company}'s revenue grow from Q1 to Q2? Answer to one decimal place.",
             growth, {"kind": "number", "abs_tol": 0.15, "units": ["%", "percent"]}, {"distractor": str(round(growth + 5, 1))}),
            ("narrowest", "Which company narrowed the width of its guidance range (high minus low) the most between the Q1 and Q2 calls? Answer with the company name.",
             narrowed, {"kind": "exact", "aliases": [narrowed.split()[0]]}, {"distractor": next(x for x in companies if x != narrowed)}),
        ]
        chosen = templates[:6] if index % 2 == 0 else templates[2:]
        for key, instruction, expected, checker, meta in chosen:
            tasks.append(task(f"mdqa-{index + 1:02d}-{key}", MDQA, instruction, ctx, expected, checker, budget,
                              companies=companies, **meta))
    return tasks


# ------------------------------------------------------------------------ main

CLASSES = {
    LEGAL: ("Contract review: six invented master services agreements", legal_tasks),
    LOGS: ("Incident analysis: five invented service logs, each hiding one outage", log_tasks),
    BUGS: ("Bug triage: five invented codebases, each with one planted bug", bug_tasks),
    MDQA: ("Multi-document QA: four sets of six invented earnings-call transcripts", mdqa_tasks),
}


def generate(out: Path) -> None:
    for task_class, (title, build) in CLASSES.items():
        folder = out / task_class
        (folder / "docs").mkdir(parents=True, exist_ok=True)
        for old in (folder / "docs").glob("*.txt"):
            old.unlink()
        tasks = build(random.Random(f"{SEED}-{task_class}"), folder)
        header = {"format": "trellis-tasks", "version": 1, "title": title,
                  "description": f"Generated by sample_tasks/generate.py (seed {SEED}); constructed examples, not real documents.",
                  "metadata": {"constructed_example": True, "seed": SEED, "task_class": task_class}}
        with (folder / "tasks.jsonl").open("w", encoding="utf-8", newline="\n") as f:
            for line in [header, *tasks]:
                f.write(json.dumps(line, ensure_ascii=False) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write into (default: beside this script)")
    generate(parser.parse_args().out)


if __name__ == "__main__":
    main()
