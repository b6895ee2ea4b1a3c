"""Builds the water-utility evaluation set: docs/ (PDF, DOCX, PPTX, XLSX, CSV) and questions.jsonl.

    .venv/bin/python evaluation/sets/water-utility/build.py

Kestrel Valley Water is a fictional utility; every text below was written for this project (MIT, like the
rest of the repository). The files are written with reportlab, python-docx, python-pptx and openpyxl
through tests/ingestion/documents.py: the PDFs are multi-page, with a running header, "Page N of M"
footers and words hyphenated at line ends, as a typeset report has.

Each answerable question names the phrase that answers it; the page it is on is found in what the
writer laid out (a PDF page, a slide), so `expected_page` stays right when the text moves.
Output is deterministic: rebuilding without changing this file changes no byte of the questions and
no byte of the PDFs (the Office files carry the time they were written).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.ingestion.documents import Block, write_csv, write_docx, write_pdf, write_pptx, write_xlsx  # noqa: E402

DOCS = HERE / "docs"
UTILITY = "Kestrel Valley Water"

ANNUAL_REPORT: list[Block] = [
    ("title", "Annual Report 2025"),
    ("h1", "Chair's foreword"),
    (
        "p",
        f"{UTILITY} supplies drinking water to 182,000 people in the Kestrel Valley and the market towns of "
        "Ashby Cross and Millbrook. The year was shaped by the driest spring in thirty years, by the start "
        "of the largest mains replacement programme in our history, and by a change in how customers reach us.",
    ),
    (
        "p",
        "Throughout the dry months no customer had their supply cut off for lack of water, and the temporary "
        "use ban we announced in June was lifted on 14 September after the reservoirs recovered. I thank "
        "our customers for their patience and our staff for their work through a demanding summer.",
    ),
    (
        "p",
        "Our board approved a five-year investment plan of 214 million pounds, of which 96 million pounds is "
        "for replacing ageing distribution mains and 31 million pounds for the new treatment stage at "
        "Heronsgate. Bills will rise by less than inflation in each of those five years.",
    ),
    ("h1", "Water resources"),
    (
        "p",
        "We draw water from three sources: Kestrel Reservoir, which provides about 60 percent of supply, the "
        "Coldwell boreholes, which provide about 30 percent, and a river intake on the Lune at Fenby, which "
        "provides the rest. Rainfall in the catchment between March and May was 41 percent of the long-term "
        "average.",
    ),
    (
        "p",
        "Kestrel Reservoir fell to a lowest level of 47 percent of capacity on 22 August. Under our drought "
        "plan, the ban was declared on 9 June, when the reservoir passed the trigger level for a temporary use "
        "ban and the forecast showed no relief.",
    ),
    (
        "p",
        "Average demand during the year was 52 megalitres a day, with a peak of 68 megalitres a day on "
        "18 July, the hottest day recorded in the valley. Demand per person fell to 139 litres a day, down "
        "from 144 the year before, helped by the free water-saving kits that 9,400 households requested.",
    ),
    ("h1", "Water quality"),
    (
        "p",
        "Our laboratory analysed 38,600 samples taken from treatment works, service reservoirs and customer "
        "taps. Compliance with the drinking water standards was 99.97 percent; the failures were eleven "
        "samples, nine of them for iron in older cast-iron mains in Millbrook, where replacement work has "
        "since started.",
    ),
    (
        "p",
        "Turbidity at the Heronsgate treatment works rose during the autumn storms, when the river intake "
        "carried more sediment than the existing clarifiers were designed for. The new dissolved air "
        "flotation stage, due to enter service in 2027, is designed to remove that sediment before "
        "filtration.",
    ),
    (
        "p",
        "We received 1,214 contacts from customers about the appearance, taste or smell of their water, "
        "nineteen percent fewer than last year. Most concerned discoloured water after burst mains, which "
        "usually clears after running the kitchen tap for a few minutes.",
    ),
    ("h1", "Leakage and the network"),
    (
        "p",
        "Leakage averaged 11.8 megalitres a day, which is 18.4 percent of the water we put into supply and "
        "below our regulatory target of 12.5 megalitres a day for the first time. Acoustic loggers fitted "
        "to 2,300 hydrants now listen for leaks every night and send their recordings to the control room.",
    ),
    (
        "p",
        "Our network is 1,940 kilometres of mains. During the year we replaced 46 kilometres of mains, "
        "mostly cast iron laid before 1960, and repaired 1,380 bursts. The average time to repair a visible "
        "leak once reported fell from 5.2 days to 3.1 days.",
    ),
    (
        "p",
        "We also replaced 2,150 lead communication pipes, the short section between the main and the "
        "boundary of a property. Where a customer replaces the lead supply pipe on their own land at the "
        "same time, we contribute up to 400 pounds towards the cost.",
    ),
    ("h1", "Customers"),
    (
        "p",
        "In April we opened a round-the-clock telephone line for emergencies and moved other enquiries to "
        "a service desk open from 8 am to 8 pm on weekdays and 9 am to 1 pm on Saturdays. The average wait "
        "for a call to be answered was 74 seconds.",
    ),
    (
        "p",
        "Complaints fell to 2,870, a rate of 31 complaints for every 10,000 customers. Billing remained the "
        "most common subject, followed by the time taken to repair leaks. We paid 38,200 pounds in "
        "compensation under our guaranteed standards scheme, most of it for supply interruptions longer than "
        "twelve hours.",
    ),
    (
        "p",
        "Our social tariff, WaterAssist, now supports 6,800 households with a discount of half the standard "
        "charges; customers qualify when their household income is below 21,000 pounds a year.",
    ),
    ("h1", "Finance"),
    (
        "p",
        "Revenue was 96.4 million pounds, of which 88.1 million pounds came from household customers. "
        "Operating costs were 61.7 million pounds; electricity for pumping and treatment cost 9.8 million "
        "pounds, 23 percent more than the year before.",
    ),
    (
        "p",
        "Capital investment was 43.5 million pounds. Net debt at the year end was 312 million pounds, and "
        "the utility paid no dividend, as in every year since it became a not-for-dividend company in 2011.",
    ),
    ("h1", "Outlook"),
    (
        "p",
        "Next year we will begin building the Heronsgate flotation stage, replace a further 52 kilometres of "
        "mains and start a trial of smart meters in Ashby Cross. We also plan to consult "
        "customers on a new drought plan by the end of the year.",
    ),
]

DROUGHT_PLAN: list[Block] = [
    ("title", "Drought Plan"),
    ("h1", "Purpose of this plan"),
    (
        "p",
        "This plan sets out what Kestrel Valley Water does as a drought develops, from the first warning "
        "signs to the emergency measures we hope never to use. It describes the triggers we watch, the "
        "actions at each stage, and how we tell customers. The plan is reviewed every five years and after "
        "every drought.",
    ),
    ("h1", "Drought stages"),
    (
        "p",
        "We recognise four stages. Each stage is reached when a trigger is crossed and the rainfall outlook "
        "for the next three months is below average. We step back down a stage when the reservoir has stayed "
        "above the trigger of the stage for four consecutive weeks.",
    ),
    (
        "bullet",
        "Stage 1, developing drought: Kestrel Reservoir below 70 percent of capacity between April and "
        "September. We increase publicity about saving water and speed up leak repairs.",
    ),
    (
        "bullet",
        "Stage 2, drought: the reservoir below 55 percent in summer or 65 percent in winter. We may "
        "declare a temporary use ban, often called a hosepipe ban.",
    ),
    (
        "bullet",
        "Stage 3, severe drought: the reservoir below 40 percent. We apply for a drought order to "
        "restrict non-essential commercial uses and to take more water from the Lune.",
    ),
    (
        "bullet",
        "Stage 4, emergency: the reservoir below 25 percent. We may apply for an emergency drought "
        "order allowing rota cuts or standpipes; this has never happened in our history.",
    ),
    ("h1", "Temporary use ban"),
    (
        "p",
        "A temporary use ban stops customers using a hosepipe to water gardens, wash cars, fill swimming "
        "pools or clean patios. Watering cans and buckets can still be used, and so can water taken from "
        "water butts or grey water systems. We give at least seven days of notice before a ban starts, on "
        "our website, in local newspapers and by text message to customers who have registered.",
    ),
    (
        "p",
        "Some customers are exempt. Customers on our priority services register may still use a hosepipe "
        "where they cannot reasonably use a watering can. Drip irrigation systems fitted with a timer, "
        "which use far less water than a hosepipe, may also be used. Businesses that need water for their "
        "trade, such as garden centres and car washes that recycle their water, are exempt as well.",
    ),
    (
        "p",
        "Anyone who ignores a ban can be fined up to 1,000 pounds. In practice we first write to a customer "
        "who has been reported, and we have never prosecuted anyone.",
    ),
    ("h1", "Supply-side measures"),
    (
        "p",
        "As a drought deepens we take more water from the Coldwell boreholes, up to their licensed maximum "
        "of 24 megalitres a day, and we transfer up to 8 megalitres a day from the neighbouring Fellside "
        "supply area through the interconnector completed in 2019. We also reduce pressure in the network "
        "at night, which lowers leakage without affecting customers.",
    ),
    ("h1", "Telling customers"),
    (
        "p",
        "At every stage we publish a weekly drought update on our website with the reservoir level, the "
        "rainfall of the past week and the stage we are in. Customers can sign up for text alerts about "
        "restrictions by texting the word DROUGHT to 60777.",
    ),
]

HANDBOOK: list[Block] = [
    ("title", "Customer Handbook"),
    (
        "p",
        f"This handbook explains how your water and wastewater services from {UTILITY} work: how to open "
        "an account, how we bill you, what to do about leaks, and how to complain if something goes wrong.",
    ),
    ("h1", "Opening and closing an account"),
    (
        "p",
        "When you move into a property in our area, tell us within 21 days, online or on the service desk "
        "line. Give us the meter reading on the day you moved in, so you only pay for the water you use.",
    ),
    (
        "p",
        "When you move out, tell us at least two working days before you leave and give us a final meter "
        "reading. We will send a final bill to your new address within ten working days.",
    ),
    ("h1", "Your bill"),
    ("h2", "How we work out your bill"),
    (
        "p",
        "If you have a meter, your bill has a standing charge for each day and a charge for every cubic "
        "metre of water you use; the wastewater charge is based on 92 percent of the water you use, since "
        "some water never reaches the sewer. Without a meter, you pay a fixed charge set by the rateable "
        "value of your property.",
    ),
    (
        "p",
        "We read meters every six months. In between, we send an estimated bill, which you can correct by "
        "sending us your own reading.",
    ),
    ("h2", "Ways to pay"),
    ("bullet", "Direct Debit, monthly, quarterly or every six months; monthly payers can choose any date."),
    ("bullet", "Online or by phone with a debit or credit card."),
    ("bullet", "In cash at any post office, using the barcode printed on your bill."),
    ("bullet", "A payment card for customers who prefer to pay a small amount each week."),
    ("h2", "Help if you are struggling"),
    (
        "p",
        "If you are finding it hard to pay, contact us before the bill is due. We can spread payments, "
        "stop late charges while we agree a plan, or check whether you qualify for WaterAssist, our social "
        "tariff. We will never cut off the water supply to a home because a bill has not been paid.",
    ),
    ("h1", "Meters"),
    (
        "p",
        "Any household can ask for a free meter. We fit it within 90 days; if your bill turns out higher "
        "with a meter, you can switch back to unmetered charges within 24 months of fitting.",
    ),
    ("h1", "Leaks and pipes"),
    (
        "p",
        "We look after the water main and the communication pipe up to your property boundary, usually at "
        "the stop tap in the pavement. You are responsible for the supply pipe from the boundary to your "
        "home, and for the pipes inside it.",
    ),
    (
        "p",
        "If we find a leak on your supply pipe, we will repair it free of charge once, provided the pipe "
        "is within our reach and less than 25 metres long. If a leak has made your metered bill higher, we "
        "will reduce the bill for the water lost, once, if you repair the leak within one month.",
    ),
    ("h1", "Complaints"),
    (
        "p",
        "If you are unhappy with our service, tell us and we will reply within five working days. If you "
        "are still not satisfied, a senior manager will review your complaint and reply within ten working "
        "days. After that you can take your complaint to the Consumer Council for Water, an independent "
        "body, free of charge.",
    ),
    ("h2", "Guaranteed standards"),
    (
        "table",
        [
            ["Service", "Our standard", "Payment if we miss it"],
            ["Keeping an appointment", "Within the two-hour slot we agreed", "£30"],
            ["Reply to a written complaint", "Within 5 working days", "£30"],
            ["Restoring supply after a planned interruption", "By the time we gave you", "£30, plus £15 per 12 hours"],
            ["Notice of a planned interruption", "At least 48 hours", "£30"],
            ["Sewer flooding inside your home", "-", "Refund of the year's sewerage charges, up to £1,000"],
        ],
    ),
]

BRIEFING_SLIDES: list[tuple[str, list[str], str]] = [
    ("Board Briefing, Third Quarter 2025", [], ""),
    (
        "Summary of the quarter",
        [
            "Reservoirs recovered and restrictions ended during the quarter",
            "Leakage at its lowest level for the second quarter running",
            "Heronsgate flotation stage: contract awarded to Brennan Civil",
        ],
        "The board asked for a lessons-learned review of the ban; it is due in December.",
    ),
    (
        "Capital programme",
        [
            "Mains replaced this quarter: 14.2 km against a plan of 12 km",
            "Spend to date: £31.6m of the £43.5m annual budget",
            "Ashby Cross reservoir roof repair finished two weeks early",
        ],
        "The Millbrook iron mains are the first priority of the replacement plan.",
    ),
    (
        "Leakage",
        [
            "Average leakage in the quarter: 11.2 Ml/d",
            "Night-time pressure management extended to 14 more zones",
            "Acoustic loggers found 312 hidden leaks",
        ],
        "Most hidden leaks found by the loggers were on customer supply pipes.",
    ),
    (
        "Customer service",
        [
            "Calls answered within 60 seconds: 71 percent",
            "Complaints in the quarter: 702, down 9 percent",
            "Customer satisfaction score: 4.3 out of 5",
        ],
        "",
    ),
    (
        "Smart meter trial",
        [
            "3,000 homes in Ashby Cross from March 2026",
            "Hourly readings sent over a radio network",
            "Continuous-flow alerts to tell customers about leaks in their homes",
        ],
        "The trial will decide whether smart meters are rolled out across the valley from 2028.",
    ),
    ("Risks", [], ""),
]
BRIEFING_TABLES = {
    6: [
        ["Risk", "Rating", "Owner"],
        ["Second dry winter", "High", "Director of Water Resources"],
        ["Electricity prices", "Medium", "Finance Director"],
        ["Contractor capacity for mains work", "Medium", "Director of Networks"],
    ]
}

TARIFFS: dict[str, list[list[Any]]] = {
    "Household metered": [
        ["Charge", "Water", "Wastewater", "Unit"],
        ["Standing charge", 38.50, 46.20, "£ per year"],
        ["Volume charge", 1.72, 2.31, "£ per cubic metre"],
        ["WaterAssist standing charge", 19.25, 23.10, "£ per year"],
        ["WaterAssist volume charge", 0.86, 1.16, "£ per cubic metre"],
    ],
    "Household unmetered": [
        ["Rateable value band", "Water", "Wastewater", "Unit"],
        ["Up to £150", 201.00, 244.00, "£ per year"],
        ["£151 to £300", 289.00, 351.00, "£ per year"],
        ["Over £300", 377.00, 458.00, "£ per year"],
    ],
    "Business": [
        ["Annual use", "Standing charge (£ per year)", "Volume charge (£ per cubic metre)"],
        ["Up to 5,000 cubic metres", 96.00, 1.64],
        ["5,001 to 50,000 cubic metres", 480.00, 1.41],
        ["Over 50,000 cubic metres", 3_600.00, 1.18],
    ],
    "Connections": [
        ["Service", "Fee (£)", "Notes"],
        ["New household connection, up to 10 metres", 1_420.00, "Includes the meter and the boundary box"],
        ["Each extra metre of pipe", 96.00, "In a public road"],
        ["Moving a meter", 385.00, "Inside the property boundary"],
        ["Disconnection at the customer's request", 310.00, "Water main left in place"],
    ],
}

WORKS: list[list[Any]] = [
    ["Start date", "Town", "Street", "Work", "Expected duration (days)", "Supply interrupted"],
    ["2026-01-12", "Millbrook", "Station Road", "Replacing cast iron main (640 m)", 15, "Up to 4 hours, twice"],
    ["2026-01-19", "Ashby Cross", "Kiln Lane", "New valve at the Kiln Lane junction", 2, "Up to 6 hours"],
    ["2026-01-26", "Millbrook", "Abbey Street", "Replacing cast iron main (410 m)", 10, "Up to 4 hours, once"],
    ["2026-02-02", "Fenby", "River Walk", "Inspecting the Lune intake screens", 3, "No"],
    [
        "2026-02-09",
        "Kestrel Bridge",
        "High Street",
        "Replacing lead communication pipes (38 homes)",
        12,
        "Up to 2 hours per home",
    ],
    ["2026-02-16", "Ashby Cross", "Mill Hill", "Fitting pressure-reducing valve", 4, "No"],
    ["2026-02-23", "Coldwell", "Borehole Lane", "Servicing borehole pump number 3", 5, "No"],
    ["2026-03-02", "Millbrook", "Church Walk", "Replacing cast iron main (220 m)", 6, "Up to 4 hours, once"],
    ["2026-03-09", "Heronsgate", "Works Road", "Site clearance for the flotation stage", 20, "No"],
    ["2026-03-16", "Ashby Cross", "Various", "Fitting smart meters (first 500 homes)", 30, "Up to 30 minutes per home"],
]

# (question, source, expected terms, phrase that locates the answer in the source or None for sheets and DOCX).
ANSWERABLE: list[tuple[str, str, list[str], str | None]] = [
    (
        "How many people does the utility supply with drinking water?",
        "annual-report-2025.pdf",
        ["182,000"],
        "182,000 people",
    ),
    (
        "When was the hosepipe ban lifted last year?",
        "annual-report-2025.pdf",
        ["14 September"],
        "lifted on 14 September after",
    ),
    (
        "How much of the five-year investment plan goes to replacing water mains?",
        "annual-report-2025.pdf",
        ["96 million"],
        "96 million pounds is",
    ),
    (
        "What was the lowest level Kestrel Reservoir reached during the dry summer?",
        "annual-report-2025.pdf",
        ["47 percent"],
        "lowest level of 47 percent",
    ),
    (
        "How much water does each person use per day on average now?",
        "annual-report-2025.pdf",
        ["139 litres"],
        "139 litres a day",
    ),
    (
        "Why did some samples fail the drinking water standards in Millbrook?",
        "annual-report-2025.pdf",
        ["iron"],
        "nine of them for iron",
    ),
    (
        "What is the flotation stage at Heronsgate meant to fix?",
        "annual-report-2025.pdf",
        ["sediment"],
        "designed to remove that sediment",
    ),
    (
        "Was leakage below the regulator's target this year?",
        "annual-report-2025.pdf",
        ["11.8", "12.5"],
        "below our regulatory target",
    ),
    (
        "How much will the company pay towards replacing my lead supply pipe?",
        "annual-report-2025.pdf",
        ["400 pounds"],
        "up to 400 pounds",
    ),
    ("Who qualifies for the WaterAssist social tariff?", "annual-report-2025.pdf", ["21,000"], "below 21,000 pounds"),
    ("Does the utility pay dividends to shareholders?", "annual-report-2025.pdf", ["no dividend"], "paid no dividend"),
    (
        "How many homes will take part in the smart meter trial?",
        "board-briefing-q3.pptx",
        ["3,000"],
        "3,000 homes in Ashby Cross from March 2026",
    ),
    (
        "At what reservoir level is a temporary use ban considered in summer?",
        "drought-plan.pdf",
        ["55 percent"],
        "below 55 percent in summer",
    ),
    (
        "Can I still use a watering can during a hosepipe ban?",
        "drought-plan.pdf",
        ["Watering cans"],
        "Watering cans and buckets can still be used",
    ),
    (
        "How much notice is given before a hosepipe ban starts?",
        "drought-plan.pdf",
        ["seven days"],
        "at least seven days of notice",
    ),
    (
        "What is the fine for ignoring a temporary use ban?",
        "drought-plan.pdf",
        ["1,000 pounds"],
        "fined up to 1,000 pounds",
    ),
    (
        "How do I sign up for text alerts about water restrictions?",
        "drought-plan.pdf",
        ["60777"],
        "texting the word DROUGHT to 60777",
    ),
    (
        "How much water can be brought in from the Fellside area in a drought?",
        "drought-plan.pdf",
        ["8 megalitres"],
        "up to 8 megalitres a day",
    ),
    ("How soon after moving in do I need to tell you?", "customer-handbook.docx", ["21 days"], None),
    ("Why is the wastewater charge lower than the water I use?", "customer-handbook.docx", ["92 percent"], None),
    (
        "Can I go back to unmetered charges if a meter makes my bill higher?",
        "customer-handbook.docx",
        ["24 months"],
        None,
    ),
    ("Which pipes am I responsible for?", "customer-handbook.docx", ["supply pipe"], None),
    ("What do you pay if an engineer misses the appointment slot?", "customer-handbook.docx", ["£30"], None),
    ("Will you cut off my water if I cannot pay the bill?", "customer-handbook.docx", ["never cut off"], None),
    ("What is the volume charge for metered household water?", "tariffs-2026.xlsx", ["1.72"], None),
    ("How much does a new household connection cost?", "tariffs-2026.xlsx", ["1420"], None),
    ("When does the main replacement on Station Road in Millbrook start?", "planned-works.csv", ["2026-01-12"], None),
    ("Will my water be off during the work on Kiln Lane?", "planned-works.csv", ["6 hours"], None),
    (
        "How many hidden leaks did the acoustic loggers find in the third quarter?",
        "board-briefing-q3.pptx",
        ["312"],
        "Acoustic loggers found 312 hidden leaks",
    ),
    (
        "Who is responsible for the risk of a second dry winter?",
        "board-briefing-q3.pptx",
        ["Director of Water Resources"],
        "Director of Water Resources",
    ),
]

UNANSWERABLE = [
    "How much fluoride is added to the water supply?",
    "What is the hardness of the water in Ashby Cross?",
    "Can I pay my bill with a cheque sent by post?",
    "How many people work for the utility?",
    "Who is the chief executive of the company?",
    "When will the hosepipe ban next year start?",
    "Does the utility offer bottled water deliveries to vulnerable customers during an outage?",
    "How much does a replacement meter cost if mine is damaged by frost?",
    "What is the interest rate on the utility's debt?",
    "When does the sewer replacement in Fenby start?",
]


def _pages_of_pdf(texts: list[str], phrase: str, source: str) -> int:
    pages = [number for number, text in enumerate(texts, start=1) if phrase in " ".join(text.split())]
    assert len(pages) == 1, f"{source}: {phrase!r} is on pages {pages}, want exactly one"
    return pages[0]


def _slide_of(phrase: str) -> int:
    for number, (title, bullets, notes) in enumerate(BRIEFING_SLIDES, start=1):
        rows = [" | ".join(row) for row in BRIEFING_TABLES.get(number - 1, [])]
        if any(phrase in text for text in [title, *bullets, notes, *rows]):
            return number
    raise AssertionError(f"no slide says {phrase!r}")


def _section_per_page(blocks: list[Block]) -> list[Block]:
    """Each top-level section from the second on starts a new page, as in a printed report."""
    paged: list[Block] = []
    for block in blocks:
        if block[0] == "h1" and any(b[0] == "h1" for b in paged):
            paged.append(("page", ""))
        paged.append(block)
    return paged


def build() -> None:
    DOCS.mkdir(exist_ok=True)
    header = f"{UTILITY} — Annual Report 2025"
    pdf_pages = {
        "annual-report-2025.pdf": write_pdf(
            DOCS / "annual-report-2025.pdf", _section_per_page(ANNUAL_REPORT), header=header, title="Annual Report 2025"
        ),
        "drought-plan.pdf": write_pdf(
            DOCS / "drought-plan.pdf",
            _section_per_page(DROUGHT_PLAN),
            header=f"{UTILITY} — Drought Plan 2024–2029",
            title="Drought Plan",
        ),
    }
    write_docx(DOCS / "customer-handbook.docx", HANDBOOK, title="Customer Handbook")
    write_pptx(DOCS / "board-briefing-q3.pptx", BRIEFING_SLIDES, subtitle=UTILITY, tables=BRIEFING_TABLES)
    write_xlsx(DOCS / "tariffs-2026.xlsx", TARIFFS)
    write_csv(DOCS / "planned-works.csv", WORKS)

    lines = []
    for question, source, terms, phrase in ANSWERABLE:
        if source.endswith(".pdf"):
            page: int | None = _pages_of_pdf(pdf_pages[source], phrase or "", source)
        elif source.endswith(".pptx"):
            page = _slide_of(phrase or "")
        else:
            page = None
        item = {"question": question, "expected_sources": [f"docs/{source}"], "expected_terms": terms}
        lines.append({**item, "expected_page": page})
    lines += [{"question": question, "expected_sources": []} for question in UNANSWERABLE]
    text = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    (HERE / "questions.jsonl").write_text(text, encoding="utf-8")
    print(f"wrote {len(list(DOCS.iterdir()))} documents and {len(lines)} questions under {HERE.relative_to(ROOT)}")


if __name__ == "__main__":
    build()
