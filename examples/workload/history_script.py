# ruff: noqa: E501  (data file: prose and records stay on one line each)
"""The long support conversation of the workload (data for generate.py).

One signed-in customer, Maya Okafor, talks to the Northwind agent for about twenty turns:
preferences stated early (short bullet answers, metric units, email only, ship to the Calgary
office), a warranty replacement, a double-charge question, a return, a carrier timeout (an
error tool result, then a retry), loyalty points, a security review, old tickets, B2B invoices
and a weather check. Tool results are generated from a seeded random source so ids, amounts and
dates look real and stay the same on every run.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import date, datetime, timedelta
from typing import Any

CUSTOMER_ID = "CUS-208114"
TODAY = datetime(2026, 3, 18, 16, 5)

PRODUCTS = [
    ("TNT-HLX-3P-GRN", "Helix 3P tent, fern green", 429.00),
    ("TNT-HLX-2P-GRN", "Helix 2P tent, fern green", 349.00),
    ("TNT-BSC-4P-ORG", "Basecamp 4P four-season tent, ember orange", 749.00),
    ("SLB-EMB-20-REG", "Ember 20 down sleeping bag, regular", 289.95),
    ("SLB-EMB-0-LNG", "Ember 0 down sleeping bag, long", 379.95),
    ("PAD-THR-R5-REG", "Thermarest-style R5 insulated pad, regular", 159.00),
    ("BTS-RDG-W-8.5", "Ridgeline women's hiking boot, 8.5", 219.00),
    ("BTS-RDG-W-9", "Ridgeline women's hiking boot, 9", 219.00),
    ("TRL-DRF-W-9", "Drift women's trail runner, 9", 149.00),
    ("JKT-SQL-W-M", "Squall women's rain jacket, M", 199.00),
    ("JKT-DWN-W-M", "Loft 800 women's down jacket, M", 279.00),
    ("BL-MER-W-M", "Merino 200 base layer top, M", 89.95),
    ("SCK-HIK-W-M", "Trail hiking socks, 3-pack, M", 32.00),
    ("PCK-SWT-48-W", "Switchback 48 L women's pack", 249.00),
    ("PCK-DAY-22", "Trailhead 22 L daypack", 99.00),
    ("STV-CNR-MINI", "Cinder mini canister stove", 69.95),
    ("CKW-TI-POT-900", "Titanium pot 900 ml", 54.95),
    ("HLM-ASC-M", "Ascent climbing helmet, M", 89.00),
    ("HRN-CRG-W-S", "Crag women's harness, S", 74.95),
    ("KYK-TRG-12", "Tarn 12 recreational kayak", 899.00),
    ("PDL-TRG-230", "Tarn 230 cm kayak paddle", 129.00),
    ("HDL-BEM-400", "Beam 400 headlamp", 49.95),
    ("GPS-SUM-66", "Summit 66 satellite messenger", 449.99),
    ("BTL-INS-1L", "Insulated bottle 1 L", 39.95),
    ("FUEL-ISO-230", "Isobutane fuel canister 230 g", 8.95),
]
WAREHOUSES = ["PDX1", "RNO2", "CMH1", "ATL3", "YYZ1"]
CARRIERS = {"PDX1": "ups", "RNO2": "ups", "CMH1": "fedex", "ATL3": "usps", "YYZ1": "canada_post"}


class Gen:
    """Seeded generator of ids, dates and tool results."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.call_seq = 0

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def call_id(self) -> str:
        self.call_seq += 1
        return "call_" + "".join(
            self.rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0123456789")
            for _ in range(22)
        )

    def tracking(self, carrier: str) -> str:
        if carrier == "ups":
            return "1Z" + "".join(
                self.rng.choice("0123456789ABCDEFGHJKLMNPRSTUVWXY") for _ in range(16)
            )
        if carrier == "fedex":
            return "".join(self.rng.choice("0123456789") for _ in range(12))
        if carrier == "canada_post":
            return "".join(self.rng.choice("0123456789") for _ in range(16))
        return "9400" + "".join(self.rng.choice("0123456789") for _ in range(18))

    def when(self, start: datetime, max_days: int) -> datetime:
        return start + timedelta(minutes=self.rng.randint(0, max_days * 24 * 60))

    # ------------------------------------------------------------------ results
    def order(
        self,
        order_id: str,
        placed: datetime,
        skus: list[str] | None = None,
        status: str | None = None,
    ) -> dict[str, Any]:
        rng = self.rng
        chosen = skus or [p[0] for p in rng.sample(PRODUCTS, rng.randint(1, 4))]
        by_sku = {p[0]: p for p in PRODUCTS}
        lines = []
        for i, sku in enumerate(chosen, start=1):
            _sku, name, price = by_sku[sku]
            qty = 1 if price > 100 else rng.choice([1, 1, 2])
            lines.append(
                {
                    "line_id": f"L{i}",
                    "sku": sku,
                    "name": name,
                    "quantity": qty,
                    "unit_price": price,
                    "line_total": round(price * qty, 2),
                }
            )
        subtotal = round(sum(x["line_total"] for x in lines), 2)
        shipping = 0.0 if subtotal >= 75 else 8.95
        tax = round(subtotal * rng.choice([0.05, 0.0, 0.0825, 0.11]), 2)
        wh = rng.choice(WAREHOUSES)
        carrier = CARRIERS[wh]
        st = status or rng.choice(
            ["delivered"] * 6 + ["partially_refunded", "refunded", "cancelled"]
        )
        shipped = placed + timedelta(hours=rng.randint(4, 40))
        return {
            "order_id": order_id,
            "placed_at": placed.isoformat(timespec="seconds") + "Z",
            "status": st,
            "channel": rng.choice(["web", "web", "app", "store"]),
            "currency": "USD" if wh != "YYZ1" else "CAD",
            "lines": lines,
            "subtotal": subtotal,
            "shipping": shipping,
            "tax": tax,
            "total": round(subtotal + shipping + tax, 2),
            "fulfilment_centre": wh,
            "shipments": []
            if st == "cancelled"
            else [
                {
                    "carrier": carrier,
                    "tracking_number": self.tracking(carrier),
                    "shipped_at": shipped.isoformat(timespec="seconds") + "Z",
                }
            ],
            "payment": {
                "method": rng.choice(["visa", "mastercard", "paypal", "apple_pay"]),
                "transaction_id": self.uuid(),
            },
        }

    # ------------------------------------------------------------------ catalogue
    def tent_results(self) -> list[dict[str, Any]]:
        tents = [
            ("TNT-BSC-4P-ORG", "Basecamp 4P", 749.00, 4, 5.4),
            ("TNT-BSC-3P-ORG", "Basecamp 3P", 649.00, 3, 4.6),
            ("TNT-CRQ-2P-YEL", "Cirque 2P", 699.00, 2, 2.9),
            ("TNT-CRQ-1P-YEL", "Cirque 1P bivy tent", 459.00, 1, 1.8),
            ("TNT-ALP-2P-RED", "Alpenglow 2P", 579.00, 2, 3.3),
            ("TNT-POL-6P-ORG", "Polar Dome 6P expedition", 1299.00, 6, 9.8),
        ]
        out = []
        for sku, name, price, cap, kg in tents:
            out.append(
                {
                    "sku": sku,
                    "name": name,
                    "price": price,
                    "currency": "USD",
                    "capacity": cap,
                    "season": "4-season",
                    "packed_weight_kg": kg,
                    "floor_area_m2": round(cap * 1.05 + self.rng.uniform(0, 0.6), 2),
                    "vestibules": 2 if cap > 2 else 1,
                    "poles": self.rng.choice(
                        ["DAC Featherlite NSL", "aluminium 7001-T6", "Easton Syclone"]
                    ),
                    "snow_skirt": sku.startswith("TNT-BSC") or sku.startswith("TNT-POL"),
                    "rating": round(self.rng.uniform(4.1, 4.9), 1),
                    "reviews": self.rng.randint(12, 420),
                    "in_stock": self.rng.random() > 0.2,
                    "summary": f"{name}: freestanding {cap}-person four-season shelter with {self.rng.choice(['crossing pole geometry', 'a hubbed dome frame', 'an extra ridge pole'])} for snow load and {self.rng.choice(['12', '14', '16'])} guy-out points.",
                }
            )
        return out

    def bag_results(self) -> list[dict[str, Any]]:
        bags = [
            ("SLB-EMB-0-LNG", "Ember 0, long", 379.95, -12, -19),
            ("SLB-EMB-0-REG", "Ember 0, regular", 369.95, -12, -19),
            ("SLB-EMB-M10-REG", "Ember -10, regular", 549.00, -16, -24),
            ("SLB-EMB-M10-LNG", "Ember -10, long", 569.00, -16, -24),
            ("SLB-SYN-M7-REG", "Drift synthetic -7", 229.00, -7, -14),
            ("SLB-QLT-M5-REG", "Hearth quilt -5", 319.00, -5, -12),
            (
                "SLB-EXP-M20-REG",
                "Expedition -20 (over budget filter, shown for reference)",
                799.00,
                -21,
                -29,
            ),
        ]
        return [
            {
                "sku": sku,
                "name": name,
                "price": price,
                "currency": "USD",
                "iso_comfort_c": comfort,
                "iso_limit_c": limit,
                "fill": "800-fill RDS down" if "SYN" not in sku else "synthetic",
                "weight_kg": round(self.rng.uniform(0.9, 1.8), 2),
                "packed_size_l": self.rng.randint(8, 18),
                "rating": round(self.rng.uniform(4.0, 4.9), 1),
                "in_stock": True,
            }
            for sku, name, price, comfort, limit in bags
        ]

    def reviews(self, product_id: str, n: int) -> dict[str, Any]:
        openers = [
            "Took this up to",
            "Used it on a three-night trip near",
            "Pitched it twice at",
            "Spent a stormy weekend at",
            "Ski-toured into",
            "Winter-camped at",
            "Set it up in the backcountry by",
        ]
        places = [
            "Bow Summit",
            "the Wapta Icefields",
            "Mount Hood's Timberline",
            "Lake O'Hara",
            "the Tetons",
            "Mount Rainier's Camp Muir",
            "Algonquin in February",
            "the Chic-Chocs",
            "Kananaskis",
            "Rogers Pass",
        ]
        wind = [
            "Gusts of maybe 70 km/h overnight and the frame didn't flinch.",
            "Wind all night around 60 km/h; with every guy-line out it barely moved.",
            "The wind shifted at 2 a.m. and the fly flapped loudly, but nothing bent.",
            "Stakes pulled out of soft snow in strong wind; bring snow anchors or dig deadmen.",
            "In a real blow the vestibule doors caught the wind; pitch door away from it.",
            "Strong gusts, zero drama. The hubbed poles are the reason.",
        ]
        extras = [
            "Roomy for two with all our gear inside.",
            "Condensation on the inner was manageable with both vents open.",
            "Heavy, but that's the trade-off for this strength.",
            "Snow skirt kept spindrift out completely.",
            "Setup with gloves is easy thanks to the big clips.",
            "Zippers froze once; a bit of wax fixed it.",
            "Wish the stuff sack was bigger.",
            "Colour is bright, easy to find in a whiteout.",
        ]
        rows = []
        d = date(2024, 11, 1)
        for _ in range(n):
            d = d + timedelta(days=self.rng.randint(3, 18))
            text = f"{self.rng.choice(openers)} {self.rng.choice(places)}. {self.rng.choice(wind)} {' '.join(self.rng.sample(extras, 2))}"
            stars = (
                2
                if "pulled out" in text and self.rng.random() < 0.5
                else self.rng.choice([4, 5, 5, 5])
            )
            rows.append(
                {
                    "review_id": self.uuid()[:13],
                    "date": d.isoformat(),
                    "rating": stars,
                    "verified_purchase": self.rng.random() > 0.15,
                    "title": self.rng.choice(
                        [
                            "Bombproof",
                            "Solid in wind",
                            "Great winter tent",
                            "Heavy but worth it",
                            "Bring snow stakes",
                            "Our go-to for ski touring",
                        ]
                    ),
                    "text": text,
                    "helpful_votes": self.rng.randint(0, 60),
                }
            )
        return {
            "product_id": product_id,
            "keyword": "wind",
            "average_rating": 4.6,
            "rating_distribution": {"5": 212, "4": 61, "3": 9, "2": 5, "1": 3},
            "matching_reviews": n,
            "reviews": rows,
        }

    def kb_articles(self) -> list[dict[str, Any]]:
        arts = [
            (
                "KB-1184",
                "Winter camping: choosing and pitching a four-season tent",
                "A four-season tent handles snow load and wind with more poles, a lower profile and a fly that reaches the ground. Pitch on a stamped platform: walk the snow down in snowshoes, wait 20 minutes for it to sinter, then pitch. Face the narrowest side into the wind and guy out every point. In soft snow, bury snow stakes or stuff sacks filled with snow horizontally (deadman anchors) 30 cm deep. Ventilate to control condensation even when it's cold; frost inside is normal at -10 °C and below.",
            ),
            (
                "KB-0922",
                "How sleeping bag temperature ratings work",
                "ISO 23537 gives comfort, limit and extreme ratings. The comfort rating is the lowest temperature at which a standard cold sleeper is comfortable in a relaxed position; the limit rating is for a warm sleeper curled up. Choose by comfort rating and add a pad: the pad's R-value matters as much as the bag on snow. For nights around -15 °C, use a combined R-value of 5 or more.",
            ),
            (
                "KB-1310",
                "Snow anchors and stakes compared",
                "Aluminium snow stakes hold in firm snow; wide fabric snow anchors and buried deadmen hold better in soft, fresh snow. Skis and poles work as anchors but cannot be used while you are away from camp. Never tension guy-lines fully until the anchors have frozen in.",
            ),
            (
                "KB-0457",
                "Condensation in tents: causes and fixes",
                "Every person exhales about half a litre of water overnight. Open both vents, avoid cooking inside, and keep wet gear in the vestibule. In winter, brush frost off the inner in the morning before it melts into the bag.",
            ),
            (
                "KB-1402",
                "Using stoves safely in winter",
                "Never cook inside the tent or in a closed vestibule: carbon monoxide builds up quickly. Canister stoves lose pressure in the cold; keep the canister warm in your jacket and use a winter blend. Remote-canister stoves with a pre-heat tube work down to about -20 °C.",
            ),
        ]
        return [
            {
                "article_id": a,
                "title": t,
                "url": f"https://help.northwind.example/articles/{a.lower()}",
                "updated": f"2025-{self.rng.randint(1, 12):02d}-{self.rng.randint(1, 28):02d}",
                "excerpt": body,
                "score": round(self.rng.uniform(0.55, 0.93), 3),
            }
            for a, t, body in arts
        ]

    def returns(self, n: int) -> list[dict[str, Any]]:
        rows = []
        d = date(2024, 3, 10)
        reasons = [
            "wrong_size",
            "no_longer_needed",
            "defective",
            "not_as_described",
            "arrived_damaged",
            "changed_mind",
            "better_price_elsewhere",
            "gift",
        ]
        for _ in range(n):
            d = d + timedelta(days=self.rng.randint(10, 40))
            sku, name, price = self.rng.choice(PRODUCTS)
            status = self.rng.choice(["refunded"] * 5 + ["exchanged"])
            rows.append(
                {
                    "rma_id": f"RMA-{self.rng.randint(200000, 299999)}",
                    "order_id": f"NW-{self.rng.randint(3900000, 4799999)}",
                    "opened": d.isoformat(),
                    "sku": sku,
                    "name": name,
                    "quantity": 1,
                    "reason_code": self.rng.choice(reasons),
                    "status": status,
                    "condition": self.rng.choice(["new", "like_new", "used"]),
                    "refund": {
                        "amount": price if status == "refunded" else 0.0,
                        "method": self.rng.choice(
                            ["original_payment", "original_payment", "store_credit"]
                        ),
                        "refund_id": f"RF-{self.rng.randint(10000000, 99999999)}",
                    }
                    if status == "refunded"
                    else None,
                    "label": {
                        "carrier": self.rng.choice(["ups", "usps", "canada_post"]),
                        "label_id": self.uuid(),
                    },
                }
            )
        rows[7] |= {
            "sku": "HRN-CRG-W-S",
            "name": "Crag women's harness, S",
            "status": "rejected",
            "condition": "used",
            "refund": None,
            "rejection_reason": "Climbing harness out of sealed packaging cannot be returned (safety policy).",
        }
        return rows

    def payment_retry_log(self, start: datetime, total: float) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = [
            {
                "time": start.isoformat(timespec="seconds") + "Z",
                "event": "order_placed",
                "actor": "customer",
                "detail": {"channel": "app", "app_version": "8.3.9"},
            }
        ]
        t = start
        for attempt in range(1, 13):
            t = t + timedelta(minutes=self.rng.randint(180, 420))
            events.append(
                {
                    "time": t.isoformat(timespec="seconds") + "Z",
                    "event": "payment_authorisation_failed",
                    "actor": "payments-service",
                    "detail": {
                        "attempt": attempt,
                        "payment_method": "mastercard ****0082",
                        "amount": total,
                        "processor": "adyen",
                        "processor_response": "54 Expired card",
                        "transaction_id": self.uuid(),
                        "retryable": attempt < 12,
                    },
                }
            )
            if attempt % 3 == 1:
                events.append(
                    {
                        "time": (t + timedelta(seconds=20)).isoformat(timespec="seconds") + "Z",
                        "event": "customer_notified",
                        "actor": "notifications",
                        "detail": {
                            "template": "payment_failed_update_card",
                            "channel": "sms",
                            "to": "+1 503 *** **47",
                            "delivery": self.rng.choice(["delivered", "delivered", "undelivered"]),
                            "message_id": self.uuid(),
                        },
                    }
                )
            if attempt % 4 == 0:
                events.append(
                    {
                        "time": (t + timedelta(minutes=2)).isoformat(timespec="seconds") + "Z",
                        "event": "inventory_reservation_extended",
                        "actor": "inventory-service",
                        "detail": {
                            "skus": ["GPS-SUM-66", "HDL-BEM-400", "BTL-INS-1L"],
                            "warehouse": "RNO2",
                            "reservation_id": self.uuid(),
                            "expires_at": (t + timedelta(hours=24)).isoformat(timespec="seconds")
                            + "Z",
                        },
                    }
                )
        end = start + timedelta(hours=72)
        events.append(
            {
                "time": end.isoformat(timespec="seconds") + "Z",
                "event": "order_cancelled",
                "actor": "system",
                "detail": {
                    "reason": "payment_retry_window_expired",
                    "hold_type": "payment_retry",
                    "charged": 0.0,
                },
            }
        )
        events.append(
            {
                "time": (end + timedelta(seconds=5)).isoformat(timespec="seconds") + "Z",
                "event": "inventory_released",
                "actor": "inventory-service",
                "detail": {"warehouse": "RNO2"},
            }
        )
        events.append(
            {
                "time": (end + timedelta(seconds=9)).isoformat(timespec="seconds") + "Z",
                "event": "customer_notified",
                "actor": "notifications",
                "detail": {
                    "template": "order_cancelled_payment",
                    "channel": "sms",
                    "delivery": "delivered",
                    "message_id": self.uuid(),
                },
            }
        )
        return events

    def order_history(self, n: int) -> dict[str, Any]:
        start = datetime(2022, 4, 2, 10, 0)
        orders = []
        placed = start
        for _ in range(n):
            placed = placed + timedelta(
                days=self.rng.randint(8, 38), minutes=self.rng.randint(0, 900)
            )
            oid = f"NW-{self.rng.randint(3600000, 4899999)}"
            o = self.order(oid, placed)
            orders.append(
                {
                    k: o[k]
                    for k in (
                        "order_id",
                        "placed_at",
                        "status",
                        "channel",
                        "currency",
                        "total",
                        "fulfilment_centre",
                    )
                }
                | {"items": [f"{x['quantity']} x {x['name']} ({x['sku']})" for x in o["lines"]]}
            )
        return {
            "customer_id": CUSTOMER_ID,
            "page": 1,
            "page_size": n,
            "total_orders": n,
            "orders": orders,
        }

    def scan_events(self, start: datetime, n: int, cities: list[str]) -> list[dict[str, Any]]:
        events = []
        t = start
        msgs = [
            "Arrived at facility",
            "Departed facility",
            "In transit",
            "Processing at sort hub",
            "Loaded on vehicle",
            "Customs cleared",
            "Origin scan",
        ]
        for _ in range(n):
            t = t + timedelta(minutes=self.rng.randint(40, 600))
            events.append(
                {
                    "time": t.isoformat(timespec="minutes"),
                    "location": self.rng.choice(cities),
                    "status": self.rng.choice(msgs),
                    "facility_id": f"F{self.rng.randint(1000, 9999)}",
                }
            )
        return events

    def login_events(self, n: int) -> list[dict[str, Any]]:
        events = []
        t = TODAY - timedelta(days=30)
        devices = [
            ("iPhone 15, NW app 8.4.1", "Calgary, AB, CA"),
            ("MacBook, Firefox 134", "Calgary, AB, CA"),
            ("MacBook, Firefox 134", "Portland, OR, US"),
            ("iPad, Safari 19", "Banff, AB, CA"),
        ]
        for _ in range(n):
            t = t + timedelta(minutes=self.rng.randint(200, 2400))
            device, loc = self.rng.choice(devices)
            events.append(
                {
                    "time": t.isoformat(timespec="seconds") + "Z",
                    "result": "success",
                    "mfa": "passed",
                    "device": device,
                    "location": loc,
                    "ip": f"{self.rng.choice([68, 70, 142, 174])}.{self.rng.randint(0, 255)}.{self.rng.randint(0, 255)}.{self.rng.randint(1, 254)}",
                    "session_id": self.uuid(),
                }
            )
        return events

    def points_history(self, n: int) -> list[dict[str, Any]]:
        rows = []
        t = datetime(2024, 9, 1)
        balance = 0
        for _ in range(n):
            t = t + timedelta(days=self.rng.randint(4, 20))
            kind = self.rng.choice(
                [
                    "purchase",
                    "purchase",
                    "purchase",
                    "review",
                    "reward_issued",
                    "return_reversal",
                    "class",
                ]
            )
            pts = {
                "purchase": self.rng.randint(20, 600),
                "review": 50,
                "class": 100,
                "reward_issued": -100 * self.rng.randint(1, 3),
                "return_reversal": -self.rng.randint(20, 300),
            }[kind]
            balance = max(0, balance + pts)
            rows.append(
                {
                    "date": t.date().isoformat(),
                    "type": kind,
                    "points": pts,
                    "balance_after": balance,
                    "reference": f"NW-{self.rng.randint(3600000, 4899999)}"
                    if kind in ("purchase", "return_reversal")
                    else self.uuid()[:8],
                }
            )
        return rows


def build_history(rng: random.Random) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Return the conversation as LangChain message dicts, and facts the questions refer to."""
    g = Gen(rng)
    msgs: list[dict[str, Any]] = []

    def human(text: str) -> None:
        msgs.append({"type": "human", "data": {"content": text}})

    def ai(text: str, calls: list[tuple[str, dict[str, Any]]] | None = None) -> list[str]:
        ids = [g.call_id() for _ in calls or []]
        data: dict[str, Any] = {"content": text}
        if calls:
            data["tool_calls"] = [
                {"name": n, "args": a, "id": i, "type": "tool_call"}
                for (n, a), i in zip(calls, ids, strict=True)
            ]
        msgs.append({"type": "ai", "data": data})
        return ids

    def tool(call_id: str, name: str, result: Any, status: str = "success") -> None:
        content = result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)
        msgs.append(
            {
                "type": "tool",
                "data": {
                    "content": content,
                    "tool_call_id": call_id,
                    "name": name,
                    "status": status,
                },
            }
        )

    office = {
        "line1": "1020 8 Ave SW, Suite 400",
        "city": "Calgary",
        "region": "AB",
        "postal_code": "T2P 1J2",
        "country": "CA",
    }
    facts: dict[str, Any] = {"customer_id": CUSTOMER_ID, "office_address": office}

    # 1 ---------------------------------------------------------------- preferences
    human(
        "Hi, it's Maya Okafor (signed in). Before anything else, a few things so I don't have to repeat them: keep answers short, bullet points please. I moved to Canada for work, so metric units. Email only, no texts and no phone calls. And anything new you ship me goes to my Calgary office, 1020 8 Ave SW, Suite 400, T2P 1J2, not the Portland house."
    )
    (c1,) = ai("", [("get_customer_profile", {"customer_id": CUSTOMER_ID})])
    tool(
        c1,
        "get_customer_profile",
        {
            "customer_id": CUSTOMER_ID,
            "name": "Maya Okafor",
            "emails": ["maya.okafor@example.com"],
            "phone": "+1 503 555 0147",
            "addresses": [
                {
                    "id": "ADR-1",
                    "label": "home",
                    "line1": "2716 SE Salmon St",
                    "city": "Portland",
                    "region": "OR",
                    "postal_code": "97214",
                    "country": "US",
                    "default": True,
                },
                {
                    "id": "ADR-2",
                    "label": "parents",
                    "line1": "88 Larch Crescent",
                    "city": "Canmore",
                    "region": "AB",
                    "postal_code": "T1W 2K4",
                    "country": "CA",
                    "default": False,
                },
            ],
            "loyalty": {"tier": "Summit", "points": 2140, "member_since": "2019-06-14"},
            "preferences": {
                "order_updates": "sms",
                "marketing_opt_in": True,
                "surveys_opt_in": False,
                "units": "imperial",
                "language": "en",
            },
            "b2b_accounts": [
                {
                    "account_id": "CUS-B-40871",
                    "name": "Bow Valley Paddling Club",
                    "role": "treasurer_contact",
                }
            ],
            "flags": [],
            "verification_level": 1,
            "created_at": "2019-06-14T18:22:09Z",
        },
    )
    ca, cb, cc = ai(
        "",
        [
            (
                "update_communication_preferences",
                {"customer_id": CUSTOMER_ID, "order_updates": "email", "surveys_opt_in": False},
            ),
            (
                "update_customer_profile",
                {"customer_id": CUSTOMER_ID, "changes": {"units": "metric"}},
            ),
            ("validate_address", {"address": office}),
        ],
    )
    tool(
        ca,
        "update_communication_preferences",
        {
            "customer_id": CUSTOMER_ID,
            "order_updates": "email",
            "marketing_opt_in": True,
            "surveys_opt_in": False,
            "updated_at": "2026-03-18T16:06:12Z",
        },
    )
    tool(
        cb,
        "update_customer_profile",
        {"customer_id": CUSTOMER_ID, "updated_fields": ["units"], "units": "metric"},
    )
    tool(
        cc,
        "validate_address",
        {
            "valid": True,
            "normalized": office | {"line1": "1020 8 AVE SW STE 400"},
            "type": "commercial",
            "deliverable": True,
            "po_box": False,
            "warnings": ["Commercial address: deliveries Monday to Friday 08:00-17:00 only"],
        },
    )
    ai(
        "Got it, Maya:\n- Order updates now go by email only (no SMS, no calls).\n- I'll use metric units.\n- Calgary office address checked: deliverable, commercial, so deliveries arrive Mon-Fri 08:00-17:00. I'll use it for anything new I ship.\nWhat can I help with?"
    )

    # 2 ---------------------------------------------------------------- order history
    human("Can you pull up my whole order history? I'm looking for the tent I bought last spring.")
    (c2,) = ai(
        "", [("list_customer_orders", {"customer_id": CUSTOMER_ID, "page": 1, "page_size": 70})]
    )
    history = g.order_history(70)
    tent_order = "NW-4821907"
    history["orders"].append(
        {
            "order_id": tent_order,
            "placed_at": "2025-04-11T19:42:03Z",
            "status": "delivered",
            "channel": "web",
            "currency": "USD",
            "total": 558.05,
            "fulfilment_centre": "PDX1",
            "items": [
                "1 x Helix 3P tent, fern green (TNT-HLX-3P-GRN)",
                "1 x Thermarest-style R5 insulated pad, regular (PAD-THR-R5-REG)",
            ],
        }
    )
    history["orders"].sort(key=lambda o: o["placed_at"], reverse=True)
    history["total_orders"] = len(history["orders"])
    tool(c2, "list_customer_orders", history)
    ai(
        f"Found it:\n- {tent_order}, placed 11 April 2025: Helix 3P tent (fern green) + R5 insulated pad, 558.05 USD, delivered.\nThat's the only tent order last spring. Is this the one?"
    )

    # 3 ---------------------------------------------------------------- order + stock (parallel)
    human(
        "Yes that one. A pole snapped on the first night out, it was only about -2 °C. Also, is the Basecamp 4P in stock anywhere? Thinking about an upgrade for winter trips."
    )
    c3a, c3b = ai(
        "",
        [
            ("get_order", {"order_id": tent_order, "include_events": True}),
            ("check_inventory", {"sku": "TNT-BSC-4P-ORG"}),
        ],
    )
    order = g.order(
        tent_order,
        datetime(2025, 4, 11, 19, 42, 3),
        ["TNT-HLX-3P-GRN", "PAD-THR-R5-REG"],
        "delivered",
    )
    order["events"] = [
        {
            "time": (datetime(2025, 4, 11, 19, 42) + timedelta(hours=h)).isoformat(
                timespec="minutes"
            ),
            "event": e,
        }
        for h, e in [
            (0, "order_placed"),
            (0, "payment_authorised"),
            (9, "released_to_warehouse"),
            (14, "picked"),
            (15, "packed"),
            (17, "shipped"),
            (70, "out_for_delivery"),
            (76, "delivered"),
        ]
    ]
    order["shipping_address"] = {
        "line1": "2716 SE Salmon St",
        "city": "Portland",
        "region": "OR",
        "postal_code": "97214",
        "country": "US",
    }
    order["notes"] = ["Customer is Summit tier: advance exchanges allowed."]
    facts["tent_order"] = tent_order
    tool(c3a, "get_order", order)
    inv = {
        "sku": "TNT-BSC-4P-ORG",
        "as_of": "2026-03-18T16:07:40Z",
        "locations": [
            {
                "warehouse": w,
                "on_hand": rng.randint(0, 30),
                "reserved": rng.randint(0, 5),
                "inbound": rng.choice([0, 0, 24, 40]),
                "inbound_eta": "2026-03-27",
            }
            for w in WAREHOUSES + ["AMS1"]
        ],
        "stores_with_stock": [
            {"store_id": s, "on_hand": rng.randint(1, 4)}
            for s in ("ST-YYC-01", "ST-YVR-01", "ST-SEA-01", "ST-DEN-01")
        ],
    }
    inv["locations"][4]["on_hand"] = 7
    tool(c3b, "check_inventory", inv)
    ai(
        "- The Helix 3P is covered by our Lifetime Promise: a pole snapping on a first night at -2 °C is a defect, not wear.\n- I can replace the tent (or just the pole set), repair it, or refund it.\n- Basecamp 4P: 7 in stock at our Toronto warehouse, and the Calgary store has some. It's 749.00 USD / four-season, about 1.5 kg heavier than the Helix.\nWhich fix would you like for the Helix?"
    )

    # 4 ---------------------------------------------------------------- warranty + exchange
    human(
        "Replacement please, not a refund. I have a trip on the 28th so I'd rather not wait for my broken one to arrive first."
    )
    c4a, c4b = ai(
        "",
        [
            (
                "open_warranty_claim",
                {
                    "order_id": tent_order,
                    "line_id": "L1",
                    "fault": "Main hub pole segment snapped on first night of use at about -2 C, no impact or misuse reported.",
                },
            ),
            ("check_inventory", {"sku": "TNT-HLX-3P-GRN", "warehouse": "YYZ1"}),
        ],
    )
    claim = f"WC-{rng.randint(10000, 99999)}"
    facts["warranty_claim"] = claim
    tool(
        c4a,
        "open_warranty_claim",
        {
            "claim_id": claim,
            "order_id": tent_order,
            "line_id": "L1",
            "status": "approved_auto",
            "program": "Northwind Lifetime Promise",
            "resolution_allowed": ["replace", "repair", "refund"],
            "created_at": "2026-03-18T16:09:55Z",
        },
    )
    tool(
        c4b,
        "check_inventory",
        {
            "sku": "TNT-HLX-3P-GRN",
            "as_of": "2026-03-18T16:09:58Z",
            "locations": [{"warehouse": "YYZ1", "on_hand": 4, "reserved": 1, "inbound": 0}],
        },
    )
    (c4c,) = ai(
        "",
        [
            (
                "create_exchange",
                {
                    "order_id": tent_order,
                    "line_id": "L1",
                    "new_sku": "TNT-HLX-3P-GRN",
                    "ship_before_return": True,
                },
            )
        ],
    )
    exchange_order = f"NW-{rng.randint(4900000, 4999999)}"
    facts["exchange_order"] = exchange_order
    tool(
        c4c,
        "create_exchange",
        {
            "exchange_id": g.uuid(),
            "replacement_order_id": exchange_order,
            "warehouse": "YYZ1",
            "ship_to": office,
            "carrier": "canada_post",
            "service_level": "expedited",
            "estimated_delivery": {"from": "2026-03-20", "to": "2026-03-23"},
            "return_label": {
                "rma_id": f"RMA-{rng.randint(300000, 399999)}",
                "label": "prepaid_label",
                "return_by": "2026-04-17",
            },
            "charge": 0.0,
        },
    )
    ai(
        f"Done, advance replacement on its way:\n- Claim {claim} approved under the Lifetime Promise.\n- Replacement order {exchange_order}: new Helix 3P ships from Toronto to your Calgary office, estimated 20-23 March (expedited, free).\n- Send the broken tent back with the prepaid label by 17 April; no charge.\nThat leaves time before your trip on the 28th."
    )

    # 5 ---------------------------------------------------------------- double charge
    human("Another thing. I think I was charged twice for my February order, NW-4730551.")
    c5a, c5b = ai(
        "",
        [
            ("get_order", {"order_id": "NW-4730551"}),
            ("get_payment_methods", {"customer_id": CUSTOMER_ID}),
        ],
    )
    feb = g.order(
        "NW-4730551",
        datetime(2026, 2, 9, 8, 31),
        ["SLB-EMB-20-REG", "JKT-DWN-W-M", "SCK-HIK-W-M"],
        "shipped",
    )
    t1, t2 = g.uuid(), g.uuid()
    feb["payment"] = {"method": "visa", "transactions": [t1, t2]}
    feb["shipments"] = [
        {
            "carrier": "ups",
            "tracking_number": g.tracking("ups"),
            "lines": ["L1", "L3"],
            "shipped_at": "2026-02-09T19:02:11Z",
        },
        {
            "carrier": "ups",
            "tracking_number": g.tracking("ups"),
            "lines": ["L2"],
            "shipped_at": "2026-02-16T14:40:55Z",
            "note": "L2 was back-ordered",
        },
    ]
    facts["feb_order"] = "NW-4730551"
    tool(c5a, "get_order", feb)
    tool(
        c5b,
        "get_payment_methods",
        {
            "customer_id": CUSTOMER_ID,
            "methods": [
                {
                    "id": "PM-1",
                    "brand": "visa",
                    "last4": "4417",
                    "expiry": "2028-09",
                    "default": True,
                },
                {
                    "id": "PM-2",
                    "brand": "paypal",
                    "email": "maya.okafor@example.com",
                    "default": False,
                },
                {
                    "id": "PM-3",
                    "brand": "mastercard",
                    "last4": "0082",
                    "expiry": "2025-12",
                    "default": False,
                    "expired": True,
                },
            ],
        },
    )
    c5c, c5d = ai(
        "",
        [("get_transaction", {"transaction_id": t1}), ("get_transaction", {"transaction_id": t2})],
    )
    l1 = feb["lines"][0]["line_total"] + feb["lines"][2]["line_total"]
    tool(
        c5c,
        "get_transaction",
        {
            "transaction_id": t1,
            "type": "capture",
            "amount": round(l1, 2),
            "currency": "USD",
            "status": "settled",
            "card": "visa ****4417",
            "avs": "Y",
            "cvv": "M",
            "three_ds": "authenticated",
            "processor_response": "00 Approved",
            "created_at": "2026-02-09T19:02:40Z",
            "shipment": 1,
        },
    )
    tool(
        c5d,
        "get_transaction",
        {
            "transaction_id": t2,
            "type": "capture",
            "amount": feb["lines"][1]["line_total"],
            "currency": "USD",
            "status": "settled",
            "card": "visa ****4417",
            "avs": "Y",
            "cvv": "M",
            "three_ds": "authenticated",
            "processor_response": "00 Approved",
            "created_at": "2026-02-16T14:41:20Z",
            "shipment": 2,
        },
    )
    ai(
        f"Not a double charge, it's two shipments:\n- 9 Feb: {round(l1, 2)} USD for the sleeping bag and socks (shipped first).\n- 16 Feb: {feb['lines'][1]['line_total']} USD for the down jacket, which was back-ordered and shipped a week later.\nBoth on Visa ****4417; together they equal the order total before tax and shipping."
    )

    # 6 ---------------------------------------------------------------- return eligibility + return
    human(
        "Ah ok. The Ember 20 sleeping bag from that order, can I still return it? Never used, still has tags."
    )
    (c6,) = ai("", [("check_return_eligibility", {"order_id": "NW-4730551", "line_ids": ["L1"]})])
    tool(
        c6,
        "check_return_eligibility",
        {
            "order_id": "NW-4730551",
            "lines": [
                {
                    "line_id": "L1",
                    "sku": "SLB-EMB-20-REG",
                    "eligible": True,
                    "policy": "sleeping bags 60 days + Summit tier 90 days",
                    "delivered_at": "2026-02-12",
                    "return_by": "2026-05-13",
                    "restocking_fee": 0,
                    "options": ["refund", "exchange", "store_credit"],
                }
            ],
        },
    )
    ai(
        "Yes:\n- Ember 20 is returnable until 13 May (Summit tier gives you 90 days).\n- No restocking fee. Refund, exchange or store credit.\nShall I start the return?"
    )
    human("Start it, refund to my card.")
    (c7,) = ai(
        "",
        [
            (
                "create_return",
                {
                    "order_id": "NW-4730551",
                    "lines": [{"line_id": "L1", "quantity": 1, "reason_code": "no_longer_needed"}],
                    "resolution": "refund",
                    "label": "prepaid_label",
                },
            )
        ],
    )
    rma = f"RMA-{rng.randint(300000, 399999)}"
    facts["rma"] = rma
    tool(
        c7,
        "create_return",
        {
            "rma_id": rma,
            "order_id": "NW-4730551",
            "status": "open",
            "refund_amount": feb["lines"][0]["line_total"],
            "refund_method": "original_payment",
            "label": {
                "carrier": "canada_post",
                "label_id": g.uuid(),
                "emailed_to": "maya.okafor@example.com",
            },
            "instant_refund_eligible": True,
            "return_by": "2026-05-13",
        },
    )
    ai(
        f"Return started:\n- {rma}, refund {feb['lines'][0]['line_total']} USD to Visa ****4417.\n- Prepaid label emailed to you.\n- As a Summit member you get the refund at the first carrier scan, not after inspection."
    )

    # 7 ---------------------------------------------------------------- tracking with an error
    human("Where are my boots? Order NW-4850212.")
    (c8,) = ai("", [("get_order", {"order_id": "NW-4850212"})])
    boots = g.order(
        "NW-4850212", datetime(2026, 3, 12, 21, 4), ["BTS-RDG-W-9", "SCK-HIK-W-M"], "shipped"
    )
    boots["fulfilment_centre"] = "CMH1"
    trk = g.tracking("fedex")
    boots["shipments"] = [
        {"carrier": "fedex", "tracking_number": trk, "shipped_at": "2026-03-13T15:12:40Z"}
    ]
    boots["shipping_address"] = {
        "line1": "2716 SE Salmon St",
        "city": "Portland",
        "region": "OR",
        "postal_code": "97214",
        "country": "US",
    }
    facts["boots_order"] = "NW-4850212"
    facts["boots_tracking"] = trk
    tool(c8, "get_order", boots)
    (c9,) = ai("", [("track_shipment", {"tracking_number": trk, "carrier": "fedex"})])
    tool(
        c9,
        "track_shipment",
        json.dumps(
            {
                "error": {
                    "code": "CARRIER_TIMEOUT",
                    "http_status": 504,
                    "message": "FedEx tracking API did not answer within 8000 ms",
                    "retryable": True,
                    "request_id": g.uuid(),
                }
            }
        ),
        status="error",
    )
    (c10,) = ai("", [("track_shipment", {"tracking_number": trk, "carrier": "fedex"})])
    events = g.scan_events(
        datetime(2026, 3, 13, 15, 12),
        34,
        [
            "Columbus, OH",
            "Indianapolis, IN",
            "Memphis, TN",
            "Salt Lake City, UT",
            "Boise, ID",
            "Portland, OR",
            "Troutdale, OR",
        ],
    )
    tool(
        c10,
        "track_shipment",
        {
            "tracking_number": trk,
            "carrier": "fedex",
            "status": "in_transit",
            "estimated_delivery": {"from": "2026-03-19", "to": "2026-03-20"},
            "ship_to": "PORTLAND, OR 97214",
            "weight_kg": 2.1,
            "events": events,
        },
    )
    ai(
        "- FedEx's tracking was slow to answer the first time; the retry worked.\n- Boots are in transit, last scans in Oregon; estimated delivery 19-20 March.\n- Heads-up: this order goes to the Portland house, because it was placed before you told me about the office. The parcel is already with FedEx, so I can't change it here; FedEx's own redirect service can."
    )

    # 7b --------------------------------------------------------------- returns history + cancelled order log
    human(
        "While we're at it: list all my returns from the last two years, and tell me why order NW-4799810 in January got cancelled. I never asked for that."
    )
    c24a, c24b = ai(
        "",
        [
            (
                "list_returns",
                {
                    "customer_id": CUSTOMER_ID,
                    "date_from": "2024-03-01",
                    "date_to": "2026-03-18",
                    "limit": 50,
                },
            ),
            ("get_order", {"order_id": "NW-4799810", "include_events": True}),
        ],
    )
    returns = g.returns(28)
    tool(c24a, "list_returns", {"customer_id": CUSTOMER_ID, "returns": returns})
    cancelled = g.order(
        "NW-4799810",
        datetime(2026, 1, 20, 22, 14),
        ["GPS-SUM-66", "HDL-BEM-400", "BTL-INS-1L"],
        "cancelled",
    )
    cancelled["events"] = g.payment_retry_log(datetime(2026, 1, 20, 22, 14), cancelled["total"])
    cancelled["hold"] = {
        "hold_type": "payment_retry",
        "placed_at": "2026-01-20T22:14:40Z",
        "released": False,
        "auto_cancel_at": "2026-01-23T22:14:40Z",
    }
    facts["cancelled_order"] = "NW-4799810"
    tool(c24b, "get_order", cancelled)
    ai(
        f"- Returns since March 2024: {len(returns)}, all refunded or exchanged except one rejected (a worn-in harness, for safety reasons).\n- NW-4799810 (satellite messenger, headlamp, bottle): the card on file, Mastercard ****0082, had expired, so every payment retry was declined ('expired card'). After 72 hours on hold the order was cancelled automatically and nothing was charged. The reminder emails went by SMS, which is why you missed them; that's now email only.\nWant me to reorder it on your Visa?"
    )
    human("Not now, maybe later.")
    ai("No problem, I'll leave it.")

    # 8 ---------------------------------------------------------------- loyalty
    human(
        "Can you check my points? I bought a headlamp and socks at the Banff pop-up in January and I don't think they counted."
    )
    (c11,) = ai("", [("get_loyalty_account", {"customer_id": CUSTOMER_ID})])
    tool(
        c11,
        "get_loyalty_account",
        {
            "customer_id": CUSTOMER_ID,
            "tier": "Summit",
            "points": 2140,
            "tier_points_this_year": 1610,
            "expiring": [{"points": 180, "expires_on": "2026-06-30"}],
            "rewards_available": [
                {"reward_id": g.uuid(), "value": 10.0, "expires_on": "2026-05-31"}
            ],
            "history": g.points_history(90),
        },
    )
    ai(
        "- Balance: 2,140 points, Summit tier; 180 points expire 30 June.\n- I don't see a January store purchase in the history, so those points are missing.\nSend me the receipt number and date and I'll add them."
    )
    human("Receipt 0087-2201-5531, 14 January, it was 81.90 CAD.")
    (c12,) = ai(
        "",
        [
            (
                "adjust_loyalty_points",
                {
                    "customer_id": CUSTOMER_ID,
                    "points": 82,
                    "reason": "missing points, receipt 0087-2201-5531 (2026-01-14, 81.90 CAD)",
                },
            )
        ],
    )
    tool(
        c12,
        "adjust_loyalty_points",
        {
            "customer_id": CUSTOMER_ID,
            "points_added": 82,
            "new_balance": 2222,
            "adjustment_id": g.uuid(),
        },
    )
    ai("Added 82 points for receipt 0087-2201-5531. New balance: 2,222.")

    # 9 ---------------------------------------------------------------- security
    human("Unrelated: I got an email about a new device signing in last week. Was that me?")
    (c13,) = ai("", [("list_login_events", {"customer_id": CUSTOMER_ID, "days": 30})])
    logins = g.login_events(62)
    odd_time = (TODAY - timedelta(days=6, hours=3)).isoformat(timespec="seconds") + "Z"
    logins.append(
        {
            "time": odd_time,
            "result": "failed",
            "mfa": "not_reached",
            "reason": "wrong_password",
            "device": "Windows, Chrome 133",
            "location": "Łódź, PL",
            "ip": "185.244.61.17",
            "session_id": None,
        }
    )
    logins.append(
        {
            "time": (TODAY - timedelta(days=6, hours=2, minutes=51)).isoformat(timespec="seconds")
            + "Z",
            "result": "failed",
            "mfa": "not_reached",
            "reason": "wrong_password",
            "device": "Windows, Chrome 133",
            "location": "Łódź, PL",
            "ip": "185.244.61.17",
            "session_id": None,
        }
    )
    logins.sort(key=lambda e: e["time"])
    tool(c13, "list_login_events", {"customer_id": CUSTOMER_ID, "days": 30, "events": logins})
    ai(
        "- The new-device email was your iPad in Banff: successful sign-in with MFA.\n- Separately, two failed password attempts came from Łódź, Poland, 6 days ago; they never got past the password.\n- Your account is fine, but I'd reset the password to be safe. Want me to send a reset link?"
    )
    human("Yes, send it.")
    (c14,) = ai("", [("reset_password", {"customer_id": CUSTOMER_ID})])
    tool(
        c14,
        "reset_password",
        {
            "sent": True,
            "channel": "email",
            "to": "m***.o****r@example.com",
            "expires_in_minutes": 30,
        },
    )
    ai("Reset link sent to your email; it's valid for 30 minutes.")

    # 10 --------------------------------------------------------------- tickets + escalation
    human(
        "I also opened a ticket about the kayak paddle last month and nobody ever answered. Can you look?"
    )
    (c15,) = ai("", [("search_tickets", {"customer_id": CUSTOMER_ID, "limit": 20})])
    tickets = []
    t = datetime(2023, 5, 2)
    for _ in range(16):
        t = t + timedelta(days=rng.randint(20, 70))
        tickets.append(
            {
                "ticket_id": f"TCK-{rng.randint(40000, 79999)}",
                "subject": rng.choice(
                    [
                        "Where is my order",
                        "Wrong size boots",
                        "Refund not received",
                        "Loyalty points missing",
                        "Stove igniter not working",
                        "Question about tent footprint",
                        "Change delivery address",
                        "Promo code not applied",
                        "Jacket zipper broke",
                        "Gift card balance",
                    ]
                ),
                "status": "closed",
                "created_at": t.isoformat(timespec="seconds") + "Z",
                "category": rng.choice(["order", "shipping", "return", "product", "billing"]),
                "csat": rng.choice([5, 5, 4, None]),
            }
        )
    paddle_ticket = "TCK-77120"
    tickets.append(
        {
            "ticket_id": paddle_ticket,
            "subject": "Tarn 230 paddle shaft cracked at ferrule",
            "status": "pending_internal",
            "created_at": "2026-02-22T17:40:12Z",
            "category": "warranty",
            "csat": None,
            "assignee": "tier2-warranty",
            "sla_breached": True,
        }
    )
    facts["paddle_ticket"] = paddle_ticket
    tool(c15, "search_tickets", {"total": len(tickets), "tickets": tickets})
    (c16,) = ai("", [("get_ticket", {"ticket_id": paddle_ticket})])
    comments = [
        {
            "author": "customer",
            "time": "2026-02-22T17:40:12Z",
            "public": True,
            "body": "The shaft of my Tarn 230 paddle cracked right at the ferrule on its third outing on the Bow River. It's from order NW-4716630 (with the Tarn 12 kayak). Photos attached. I'd like a replacement before the season starts.",
        }
    ]
    ct = datetime(2026, 2, 22, 18, 0)
    bodies = [
        "Auto-acknowledgement sent.",
        "Triage: warranty, third-party brand? No, Northwind Tarn line, Lifetime Promise applies.",
        "Requested photos review from warranty team.",
        "Warranty team: photos show clean fracture at ferrule, consistent with batch PDL-2025-11 issue. Waiting on QA decision about recall scope.",
        "QA: batch under investigation, hold individual replacements until decision.",
        "Reminder: customer waiting, SLA breached.",
        "No update from QA yet.",
        "Warehouse_ops: 12 Tarn 230 paddles quarantined at RNO2 pending QA.",
    ]
    for body in bodies:
        ct = ct + timedelta(hours=rng.randint(8, 90))
        comments.append(
            {
                "author": rng.choice(
                    ["agent:EMP-0319", "agent:EMP-0412", "system", "team:warranty", "team:qa"]
                ),
                "time": ct.isoformat(timespec="seconds") + "Z",
                "public": False,
                "body": body,
            }
        )
    tool(
        c16,
        "get_ticket",
        {
            "ticket_id": paddle_ticket,
            "customer_id": CUSTOMER_ID,
            "status": "pending_internal",
            "priority": "normal",
            "category": "warranty",
            "assignee": "tier2-warranty",
            "sla": {
                "first_response_due": "2026-02-22T19:40:12Z",
                "first_response_at": None,
                "breached": True,
            },
            "related_orders": ["NW-4716630"],
            "attachments": [
                {
                    "name": f"paddle_{i}.jpg",
                    "url": f"https://files.northwind.example/t/{g.uuid()}.jpg",
                }
                for i in range(1, 4)
            ],
            "comments": comments,
        },
    )
    ai(
        f"You're right, sorry about that:\n- {paddle_ticket} is waiting on an internal quality review of that paddle batch; nobody replied to you, and the reply deadline was missed.\n- The paddle is covered by the Lifetime Promise.\nShall I escalate it so a senior colleague gets you a decision?"
    )
    human(
        "Please escalate, it's been almost 4 weeks. And I want the replacement before the season, mid-April."
    )
    (c17,) = ai(
        "",
        [
            (
                "escalate_ticket",
                {
                    "ticket_id": paddle_ticket,
                    "to": "supervisor",
                    "summary": "Summit customer Maya Okafor (CUS-208114). Tarn 230 paddle cracked at ferrule (order NW-4716630), ticket opened 22 Feb, no public reply, SLA breached. Batch PDL-2025-11 under QA review. Customer wants a replacement before mid-April. Contact by email only.",
                },
            )
        ],
    )
    tool(
        c17,
        "escalate_ticket",
        {
            "ticket_id": paddle_ticket,
            "escalated_to": "supervisor",
            "priority": "high",
            "expected_response_by": "2026-03-19T16:20:00Z",
        },
    )
    ai(
        "Escalated with high priority. A senior colleague will email you by tomorrow afternoon with a decision; I noted your mid-April deadline and email-only preference."
    )

    # 11 --------------------------------------------------------------- invoices
    human(
        "Different hat now: I'm the treasurer contact for Bow Valley Paddling Club. Can you list the club's invoices for Q1?"
    )
    (c18,) = ai(
        "",
        [
            (
                "list_invoices",
                {"customer_id": "CUS-B-40871", "date_from": "2026-01-01", "date_to": "2026-03-31"},
            )
        ],
    )
    invoices = []
    d = date(2026, 1, 3)
    for _ in range(14):
        d = d + timedelta(days=rng.randint(2, 7))
        amount = round(rng.uniform(120, 2400), 2)
        st = "paid" if d < date(2026, 2, 20) else rng.choice(["open", "open", "overdue"])
        invoices.append(
            {
                "invoice_id": f"INV-2026-{rng.randint(1000, 9999):06d}",
                "issued": d.isoformat(),
                "due": (d + timedelta(days=30)).isoformat(),
                "amount": amount,
                "currency": "CAD",
                "status": st,
                "po_number": f"BVPC-{rng.randint(100, 999)}",
                "tax": {"gst": round(amount * 0.05, 2), "pst": 0.0},
            }
        )
    facts["club_invoices"] = [i["invoice_id"] for i in invoices]
    overdue = [i for i in invoices if i["status"] == "overdue"] or invoices[-1:]
    tool(
        c18,
        "list_invoices",
        {
            "customer_id": "CUS-B-40871",
            "account_name": "Bow Valley Paddling Club",
            "terms": "net-30",
            "tax_exempt": False,
            "invoices": invoices,
        },
    )
    total_q1 = round(sum(i["amount"] for i in invoices), 2)
    ai(
        f"Bow Valley Paddling Club, Q1 2026:\n- {len(invoices)} invoices, {total_q1} CAD in total (net-30).\n- Overdue: {', '.join(i['invoice_id'] for i in overdue)}.\nWant one of them in full?"
    )
    human(f"Yes, send me {overdue[0]['invoice_id']}.")
    (c19,) = ai("", [("get_invoice", {"invoice_id": overdue[0]["invoice_id"]})])
    inv_lines = [
        {"sku": s, "description": n, "quantity": rng.randint(1, 6), "unit_price": pr}
        for s, n, pr in rng.sample(PRODUCTS, 12)
    ]
    tool(
        c19,
        "get_invoice",
        overdue[0]
        | {
            "bill_to": {
                "name": "Bow Valley Paddling Club",
                "attn": "Treasurer",
                "line1": "PO Box 1184",
                "city": "Canmore",
                "region": "AB",
                "postal_code": "T1W 1P2",
                "country": "CA",
            },
            "lines": inv_lines,
            "pdf_url": f"https://billing.northwind.example/invoices/{g.uuid()}.pdf",
            "remit_to": "Northwind Outfitters Canada ULC, GST 84719 2230 RT0001",
            "payment_instructions": "EFT or cheque; quote the invoice number.",
        },
    )
    facts["sent_invoice"] = overdue[0]["invoice_id"]
    ai(
        f"{overdue[0]['invoice_id']}: {overdue[0]['amount']} CAD, due {overdue[0]['due']}, {len(inv_lines)} lines. PDF link is in your email; pay by EFT or cheque quoting the invoice number."
    )

    # 12 --------------------------------------------------------------- weather + trail (parallel)
    human(
        "Last thing. Weather for Banff on the 28th-29th and trail conditions around Lake Louise: do I need the 4-season tent or will the Helix do?"
    )
    c20a, c20b = ai(
        "",
        [
            ("get_weather_forecast", {"location": "Banff, AB", "days": 10, "units": "metric"}),
            ("get_trail_conditions", {"location": "Lake Louise"}),
        ],
    )
    days = []
    for i in range(10):
        day = date(2026, 3, 19) + timedelta(days=i)
        days.append(
            {
                "date": day.isoformat(),
                "high_c": rng.randint(-6, 6),
                "low_c": rng.randint(-18, -6),
                "precip_mm": round(rng.uniform(0, 9), 1),
                "snow_cm": rng.randint(0, 14),
                "wind_kmh": rng.randint(5, 45),
                "gusts_kmh": rng.randint(20, 75),
                "summary": rng.choice(
                    [
                        "Flurries",
                        "Sunny periods",
                        "Snow at times heavy",
                        "Cloudy",
                        "Clear and cold",
                        "Wind and light snow",
                    ]
                ),
            }
        )
    days[9] |= {
        "low_c": -16,
        "snow_cm": 12,
        "wind_kmh": 35,
        "gusts_kmh": 70,
        "summary": "Snow at times heavy",
    }
    days[8] |= {"low_c": -14}
    tool(
        c20a,
        "get_weather_forecast",
        {
            "location": "Banff, AB",
            "units": "metric",
            "issued": "2026-03-18T15:00:00-06:00",
            "days": days,
            "alerts": [
                {
                    "type": "winter_storm_watch",
                    "from": "2026-03-28",
                    "to": "2026-03-29",
                    "text": "Snowfall 10-20 cm with strong gusts over higher terrain.",
                }
            ],
        },
    )
    tool(
        c20b,
        "get_trail_conditions",
        {
            "location": "Lake Louise",
            "updated": "2026-03-18",
            "snow_depth_cm": 142,
            "avalanche_danger": {
                "alpine": "considerable",
                "treeline": "moderate",
                "below_treeline": "low",
            },
            "trails": [
                {"name": "Lake Agnes", "status": "open", "surface": "packed snow, traction needed"},
                {
                    "name": "Plain of Six Glaciers",
                    "status": "closed",
                    "reason": "avalanche terrain",
                },
                {"name": "Lakeshore", "status": "open", "surface": "packed snow"},
                {
                    "name": "Paradise Valley",
                    "status": "open",
                    "surface": "unbroken snow, snowshoes",
                },
            ],
            "advisory": "Check Avalanche Canada before travelling in avalanche terrain.",
        },
    )
    facts["trip_dates"] = "2026-03-28/29"
    ai(
        "For 28-29 March:\n- Lows around -14 to -16 °C, 12 cm of snow and gusts to 70 km/h forecast; a winter storm watch is out.\n- Lake Louise: 142 cm of snow, Plain of Six Glaciers closed (avalanche terrain); Lake Agnes open with traction.\n- The Helix is a 3-season tent: with that snow load and wind I'd take the Basecamp 4P. For avalanche questions, check Avalanche Canada.\nWant me to find a Basecamp 4P to pick up in Calgary?"
    )
    human(
        "Before I buy: compare the Basecamp 4P with your other four-season tents, and show me reviews that mention wind. I also want a warmer sleeping bag, comfort rating around -15 °C, under 600 dollars."
    )
    c22a, c22b, c22c = ai(
        "",
        [
            (
                "search_products",
                {
                    "query": "four-season tent",
                    "category": "tents",
                    "in_stock_only": False,
                    "limit": 8,
                },
            ),
            ("get_product_reviews", {"product_id": "TNT-BSC-4P-ORG", "keyword": "wind"}),
            (
                "search_products",
                {
                    "query": "down sleeping bag comfort -15",
                    "category": "sleeping_bags",
                    "max_price": 600,
                    "limit": 10,
                },
            ),
        ],
    )
    tool(c22a, "search_products", {"query": "four-season tent", "results": g.tent_results()})
    tool(c22b, "get_product_reviews", g.reviews("TNT-BSC-4P-ORG", 42))
    tool(
        c22c,
        "search_products",
        {"query": "down sleeping bag comfort -15", "results": g.bag_results()},
    )
    (c23,) = ai(
        "",
        [
            (
                "search_knowledge_base",
                {
                    "query": "winter camping tent snow load wind guying",
                    "audience": "public",
                    "limit": 5,
                },
            )
        ],
    )
    tool(c23, "search_knowledge_base", {"results": g.kb_articles()})
    ai(
        "- Basecamp 4P vs the other four-season tents: it's the roomiest (4 people, two vestibules) and the only one with a snow skirt; the Cirque 2P is lighter but cramped for gear.\n- Reviews mentioning wind are mostly positive at 60-80 km/h when all guy-lines are used; two reviewers had stakes pull out in soft snow, so bring snow anchors.\n- Sleeping bags around -15 °C comfort under 600: the Ember 0 (comfort -12 °C, 379.95) and the Ember -10 (comfort -16 °C, 549.00).\n- Our winter-camping guide recommends digging the tent in and using deadman anchors.\nI'd pair the Basecamp 4P with the Ember -10."
    )
    human(
        "Ok, I'll keep the Ember 20 return as a refund and buy the Ember -10 in the Calgary store together with the tent."
    )
    ai(
        "Makes sense: the Ember 20 return stays a refund to your Visa, and you'll buy the Ember -10 and Basecamp 4P in store. Let me check the Calgary stock for the tent."
    )
    human("Yes, find one near the office.")
    (c21,) = ai(
        "",
        [
            (
                "find_store_stock",
                {"sku": "TNT-BSC-4P-ORG", "postal_code": "T2P 1J2", "radius_km": 50},
            )
        ],
    )
    tool(
        c21,
        "find_store_stock",
        {
            "sku": "TNT-BSC-4P-ORG",
            "stores": [
                {
                    "store_id": "ST-YYC-01",
                    "name": "Calgary",
                    "distance_km": 3.8,
                    "on_hand": 2,
                    "hours_today": "10:00-20:00",
                    "pickup_ready_in": "2 hours",
                }
            ],
        },
    )
    ai(
        "Calgary store (ST-YYC-01), 3.8 km from your office, has 2 Basecamp 4P tents; order for pickup and it's ready in about 2 hours."
    )
    human("Great. Can you sum up everything we did today so I can forward it to my partner?")
    ai(
        f"Summary for today:\n- Preferences: email only, metric units, short answers, new shipments to the Calgary office.\n- Helix 3P (order {tent_order}): warranty claim {claim}, replacement order {exchange_order} shipping to the office, est. 20-23 March; return the broken tent by 17 April.\n- February order NW-4730551: no double charge (two shipments). Ember 20 return {rma}, refund to Visa ****4417.\n- Boots NW-4850212: in transit to the Portland house, est. 19-20 March.\n- NW-4799810 was cancelled in January because the saved Mastercard had expired; not reordered for now.\n- Loyalty: 82 points added, balance 2,222.\n- Security: two failed attempts from Poland; reset link sent.\n- Paddle ticket {paddle_ticket}: escalated, reply by tomorrow afternoon.\n- Club invoice {overdue[0]['invoice_id']} sent.\n- Banff 28-29 March: storm watch, take the Basecamp 4P (2 in stock at the Calgary store) and the Ember -10 sleeping bag, bought in store."
    )
    return msgs, facts
