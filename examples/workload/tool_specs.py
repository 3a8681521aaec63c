# ruff: noqa: E501  (data file: prose and records stay on one line each)
"""Tool catalog of the Northwind Outfitters customer-operations agent (data for generate.py).

Each entry is ``(domain, name, description, params)``; each param is
``(name, json_type, description, required, extra)`` where ``extra`` holds ``enum``, ``items``,
``minimum``, ``maximum``, ``format`` or ``default``. A handful of tools keep terse descriptions
on purpose (legacy names): retrieval must still find them by name.
"""

from __future__ import annotations

from typing import Any

Param = tuple[str, str, str, bool, dict[str, Any]]
Spec = tuple[str, str, str, list[Param]]


def p(name: str, kind: str, desc: str, required: bool = False, **extra: Any) -> Param:
    return (name, kind, desc, required, extra)


ORDER_ID = p("order_id", "string", "Order number, e.g. 'NW-4821907'.", True)
CUSTOMER_ID = p("customer_id", "string", "Customer id, e.g. 'CUS-208114'.", True)
CUSTOMER_OPT = p("customer_id", "string", "Restrict to one customer id (e.g. 'CUS-208114').")
SKU = p("sku", "string", "Stock keeping unit, e.g. 'TNT-HLX-3P-GRN'.", True)
DATE_FROM = p("date_from", "string", "Start date (inclusive), ISO 8601.", False, format="date")
DATE_TO = p("date_to", "string", "End date (inclusive), ISO 8601.", False, format="date")
LIMIT = p("limit", "integer", "Maximum number of rows to return.", False, minimum=1, maximum=200)
REASON = p("reason", "string", "Free-text reason, shown in the audit log.", True)
TICKET_ID = p("ticket_id", "string", "Support ticket id, e.g. 'TCK-77120'.", True)
WAREHOUSE = p(
    "warehouse",
    "string",
    "Fulfilment centre code.",
    False,
    enum=["PDX1", "RNO2", "CMH1", "ATL3", "YYZ1", "AMS1"],
)
CURRENCY = p(
    "currency", "string", "ISO 4217 currency code.", False, enum=["USD", "CAD", "EUR", "GBP"]
)
CHANNEL = p(
    "channel", "string", "Contact channel.", False, enum=["email", "sms", "push", "phone", "none"]
)

SPECS: list[Spec] = [
    # ------------------------------------------------------------------ orders
    (
        "orders",
        "get_order",
        "Fetch one order with its line items, totals, payment status, shipping address and fulfilment state.",
        [
            ORDER_ID,
            p(
                "include_events",
                "boolean",
                "Also return the order's event timeline.",
                False,
                default=False,
            ),
        ],
    ),
    (
        "orders",
        "search_orders",
        "Search orders by customer, status, date range, SKU or free text. Returns summaries, newest first.",
        [
            CUSTOMER_OPT,
            p(
                "status",
                "string",
                "Order status filter.",
                False,
                enum=[
                    "pending",
                    "paid",
                    "picking",
                    "shipped",
                    "delivered",
                    "cancelled",
                    "on_hold",
                    "partially_refunded",
                    "refunded",
                ],
            ),
            DATE_FROM,
            DATE_TO,
            p("sku", "string", "Only orders containing this SKU."),
            p("text", "string", "Free text matched against names, emails and notes."),
            LIMIT,
        ],
    ),
    (
        "orders",
        "list_customer_orders",
        "List every order of a customer with totals and status (paginated order history).",
        [
            CUSTOMER_ID,
            p("page", "integer", "Page number, starting at 1.", False, minimum=1),
            p("page_size", "integer", "Rows per page.", False, minimum=5, maximum=100),
        ],
    ),
    (
        "orders",
        "cancel_order",
        "Cancel an order that has not shipped yet. Releases reserved stock and voids or refunds the payment.",
        [
            ORDER_ID,
            REASON,
            p("notify_customer", "boolean", "Send the cancellation email.", False, default=True),
        ],
    ),
    (
        "orders",
        "update_shipping_address",
        "Change the delivery address of an order before it is picked. Re-validates the address and re-quotes shipping.",
        [
            ORDER_ID,
            p(
                "address",
                "object",
                "New address: line1, line2, city, region, postal_code, country (ISO 3166-1 alpha-2).",
                True,
            ),
            p(
                "keep_service_level",
                "boolean",
                "Keep the current shipping speed even if the price changes.",
                False,
                default=True,
            ),
        ],
    ),
    (
        "orders",
        "split_order",
        "Split an order into two shipments so the in-stock lines ship now and back-ordered lines ship later.",
        [
            ORDER_ID,
            p(
                "line_ids",
                "array",
                "Line ids to move to the second shipment.",
                True,
                items={"type": "string"},
            ),
        ],
    ),
    (
        "orders",
        "add_order_note",
        "Attach an internal note to an order (visible to staff only).",
        [ORDER_ID, p("note", "string", "Note text, max 2,000 characters.", True)],
    ),
    (
        "orders",
        "place_order_hold",
        "Put an order on hold (fraud review, address check, customer request) so the warehouse does not pick it.",
        [
            ORDER_ID,
            p(
                "hold_type",
                "string",
                "Why the order is held.",
                True,
                enum=[
                    "fraud_review",
                    "address_check",
                    "customer_request",
                    "payment_retry",
                    "inventory",
                ],
            ),
            REASON,
        ],
    ),
    (
        "orders",
        "release_order_hold",
        "Release a hold placed with place_order_hold.",
        [ORDER_ID, p("hold_id", "string", "Hold id returned by place_order_hold.", True)],
    ),
    (
        "orders",
        "reorder",
        "Create a new cart from a previous order's lines for the same customer.",
        [
            ORDER_ID,
            p("exclude_skus", "array", "SKUs to leave out.", False, items={"type": "string"}),
        ],
    ),
    ("orders", "ordr_lkp_v1", "legacy order lookup", [p("q", "string", "query", True)]),
    # ------------------------------------------------------------------ shipping
    (
        "shipping",
        "track_shipment",
        "Current status and scan history of a shipment from the carrier (UPS, FedEx, USPS, Canada Post, DHL, PostNL).",
        [
            p("tracking_number", "string", "Carrier tracking number.", True),
            p(
                "carrier",
                "string",
                "Carrier, if known.",
                False,
                enum=["ups", "fedex", "usps", "canada_post", "dhl", "postnl"],
            ),
        ],
    ),
    (
        "shipping",
        "get_shipping_quote",
        "Quote shipping options and prices for a destination and a set of items.",
        [
            p("destination_postal_code", "string", "Destination postal code.", True),
            p("country", "string", "ISO 3166-1 alpha-2 country code.", True),
            p(
                "skus",
                "array",
                "SKUs with quantities as 'SKU:qty'.",
                True,
                items={"type": "string"},
            ),
            p(
                "service_level",
                "string",
                "Only quote this speed.",
                False,
                enum=["economy", "standard", "expedited", "overnight"],
            ),
        ],
    ),
    (
        "shipping",
        "create_shipping_label",
        "Buy and print a shipping label for an outbound or return parcel.",
        [
            ORDER_ID,
            p(
                "direction",
                "string",
                "Outbound or return parcel.",
                True,
                enum=["outbound", "return"],
            ),
            p(
                "carrier",
                "string",
                "Carrier to use.",
                False,
                enum=["ups", "fedex", "usps", "canada_post", "dhl", "postnl"],
            ),
            p(
                "weight_kg",
                "number",
                "Parcel weight in kilograms.",
                False,
                minimum=0.05,
                maximum=68,
            ),
        ],
    ),
    (
        "shipping",
        "void_shipping_label",
        "Void an unused label so the carrier does not bill it.",
        [p("label_id", "string", "Label id.", True)],
    ),
    (
        "shipping",
        "schedule_pickup",
        "Book a carrier pickup at a customer address (for large returns such as kayaks and bikes).",
        [
            ORDER_ID,
            p("date", "string", "Pickup date.", True, format="date"),
            p("window", "string", "Pickup time window.", True, enum=["08-12", "12-16", "16-20"]),
        ],
    ),
    (
        "shipping",
        "file_carrier_claim",
        "Open a lost-or-damaged claim with the carrier for a shipment.",
        [
            p("tracking_number", "string", "Carrier tracking number.", True),
            p(
                "claim_type",
                "string",
                "Type of claim.",
                True,
                enum=["lost", "damaged", "partial_contents"],
            ),
            p("declared_value", "number", "Value claimed, in order currency.", True),
            p("photo_urls", "array", "Evidence photos.", False, items={"type": "string"}),
        ],
    ),
    (
        "shipping",
        "validate_address",
        "Check and normalise a postal address; flags PO boxes, undeliverable and residential/commercial type.",
        [p("address", "object", "Address with line1, city, region, postal_code, country.", True)],
    ),
    (
        "shipping",
        "get_delivery_estimate",
        "Estimated delivery date range for an order or a SKU to a postal code.",
        [
            p("order_id", "string", "Order number (or give sku + postal_code)."),
            p("sku", "string", "SKU to estimate."),
            p("postal_code", "string", "Destination postal code."),
        ],
    ),
    (
        "shipping",
        "list_carrier_incidents",
        "Active carrier service incidents (weather, hub closures) affecting delivery times by region.",
        [p("region", "string", "Region or state/province code; omit for all.")],
    ),
    (
        "shipping",
        "shp_upd",
        "upd shipment",
        [p("id", "string", "shipment", True), p("f", "object", "fields", True)],
    ),
    # ------------------------------------------------------------------ returns / refunds
    (
        "returns",
        "check_return_eligibility",
        "Tell whether order lines can be returned or exchanged under the return policy, with the reason and the deadline.",
        [
            ORDER_ID,
            p(
                "line_ids",
                "array",
                "Line ids to check; omit for all lines.",
                False,
                items={"type": "string"},
            ),
        ],
    ),
    (
        "returns",
        "create_return",
        "Open a return merchandise authorisation (RMA) for order lines and email the label.",
        [
            ORDER_ID,
            p(
                "lines",
                "array",
                "Lines to return: objects with line_id, quantity, reason_code.",
                True,
                items={"type": "object"},
            ),
            p(
                "resolution",
                "string",
                "What the customer gets.",
                True,
                enum=["refund", "exchange", "store_credit"],
            ),
            p(
                "label",
                "string",
                "How the parcel comes back.",
                False,
                enum=["prepaid_label", "qr_drop_off", "customer_arranged", "pickup"],
            ),
        ],
    ),
    (
        "returns",
        "get_return_status",
        "Status of an RMA: label sent, in transit, received, inspected, refunded.",
        [p("rma_id", "string", "Return id, e.g. 'RMA-330915'.", True)],
    ),
    (
        "returns",
        "issue_refund",
        "Refund an amount to the original payment method or as store credit. Amounts above the agent limit need a supervisor approval id.",
        [
            ORDER_ID,
            p("amount", "number", "Amount to refund, in order currency.", True, minimum=0.01),
            p(
                "method",
                "string",
                "Where the money goes.",
                True,
                enum=["original_payment", "store_credit", "gift_card"],
            ),
            REASON,
            p("approval_id", "string", "Supervisor approval id for amounts above 250.00."),
        ],
    ),
    (
        "returns",
        "create_exchange",
        "Exchange a returned line for another size or colour of the same product, reserving the replacement now.",
        [
            ORDER_ID,
            p("line_id", "string", "Line being exchanged.", True),
            p("new_sku", "string", "Replacement SKU.", True),
            p(
                "ship_before_return",
                "boolean",
                "Ship the replacement before the original arrives (advance exchange).",
                False,
                default=False,
            ),
        ],
    ),
    (
        "returns",
        "inspect_return",
        "Record the warehouse inspection result of a returned item.",
        [
            p("rma_id", "string", "Return id.", True),
            p(
                "condition",
                "string",
                "Condition grade.",
                True,
                enum=["new", "like_new", "used", "damaged", "missing_parts"],
            ),
            p("notes", "string", "Inspector notes."),
        ],
    ),
    (
        "returns",
        "list_returns",
        "List returns by customer, status or date range.",
        [
            CUSTOMER_OPT,
            p(
                "status",
                "string",
                "RMA status.",
                False,
                enum=["open", "in_transit", "received", "inspected", "refunded", "rejected"],
            ),
            DATE_FROM,
            DATE_TO,
            LIMIT,
        ],
    ),
    (
        "returns",
        "approve_warranty_claim",
        "Approve or reject a warranty claim under the Northwind Lifetime Promise or a manufacturer warranty.",
        [
            p("claim_id", "string", "Warranty claim id.", True),
            p(
                "decision",
                "string",
                "Decision.",
                True,
                enum=["repair", "replace", "refund", "reject"],
            ),
            REASON,
        ],
    ),
    (
        "returns",
        "open_warranty_claim",
        "Open a warranty claim for a defective product with photos and a description of the fault.",
        [
            ORDER_ID,
            p("line_id", "string", "Line with the defective product.", True),
            p("fault", "string", "Description of the defect.", True),
            p("photo_urls", "array", "Photos.", False, items={"type": "string"}),
        ],
    ),
    (
        "returns",
        "rfnd_calc",
        "calc refund",
        [
            p("o", "string", "order", True),
            p("l", "array", "lines", False, items={"type": "string"}),
        ],
    ),
    # ------------------------------------------------------------------ billing
    (
        "billing",
        "get_invoice",
        "Fetch an invoice (PDF link and line items) for an order or a B2B account.",
        [p("invoice_id", "string", "Invoice id, e.g. 'INV-2026-004417'.", True)],
    ),
    (
        "billing",
        "list_invoices",
        "List invoices of a customer or business account with amounts due and due dates.",
        [
            CUSTOMER_ID,
            p(
                "status",
                "string",
                "Invoice status.",
                False,
                enum=["open", "paid", "overdue", "void"],
            ),
            DATE_FROM,
            DATE_TO,
        ],
    ),
    (
        "billing",
        "get_payment_methods",
        "List the saved payment methods of a customer (masked card numbers, expiry, default flag).",
        [CUSTOMER_ID],
    ),
    (
        "billing",
        "retry_payment",
        "Retry a failed payment authorisation on an order, optionally with another saved method.",
        [ORDER_ID, p("payment_method_id", "string", "Saved payment method to use instead.")],
    ),
    (
        "billing",
        "get_transaction",
        "Details of one payment transaction: processor response, AVS/CVV result, 3-D Secure outcome.",
        [p("transaction_id", "string", "Transaction id (UUID).", True)],
    ),
    (
        "billing",
        "respond_to_chargeback",
        "Submit evidence for a card chargeback before the processor deadline.",
        [
            p("dispute_id", "string", "Dispute id from the processor.", True),
            p(
                "evidence",
                "object",
                "Evidence: tracking, delivery_photo, customer_communication, policy_acceptance.",
                True,
            ),
            p(
                "accept",
                "boolean",
                "Accept the chargeback instead of contesting it.",
                False,
                default=False,
            ),
        ],
    ),
    (
        "billing",
        "apply_price_adjustment",
        "Refund the difference when a product drops in price within 14 days of purchase (price protection).",
        [
            ORDER_ID,
            p("line_id", "string", "Line id.", True),
            p("new_price", "number", "Current lower price.", True),
        ],
    ),
    (
        "billing",
        "issue_gift_card",
        "Issue a digital gift card (goodwill credit or purchase) and email it.",
        [
            p("amount", "number", "Card value.", True, minimum=5, maximum=500),
            CURRENCY,
            p("recipient_email", "string", "Recipient email.", True, format="email"),
            p("message", "string", "Personal message."),
        ],
    ),
    (
        "billing",
        "get_gift_card_balance",
        "Balance and transaction history of a gift card.",
        [
            p(
                "card_number",
                "string",
                "Gift card number (last 4 digits are enough with customer_id).",
                True,
            ),
            CUSTOMER_OPT,
        ],
    ),
    (
        "billing",
        "update_tax_exemption",
        "Record or remove a tax exemption certificate for a B2B or non-profit account.",
        [
            CUSTOMER_ID,
            p("certificate_id", "string", "Certificate number.", True),
            p("region", "string", "State or province of the exemption.", True),
            p("expires_on", "string", "Expiry date.", False, format="date"),
        ],
    ),
    (
        "billing",
        "set_payment_plan",
        "Split an order over 3 or 4 instalments through the pay-later partner when eligible.",
        [ORDER_ID, p("instalments", "integer", "Number of instalments.", True, enum=[3, 4])],
    ),
    # ------------------------------------------------------------------ accounts / auth
    (
        "accounts",
        "get_customer_profile",
        "Customer profile: name, emails, phone, addresses, loyalty tier, communication preferences, flags.",
        [CUSTOMER_ID],
    ),
    (
        "accounts",
        "find_customer",
        "Find customers by email, phone, name or postal code. Returns at most 10 matches.",
        [
            p("email", "string", "Email address.", False, format="email"),
            p("phone", "string", "Phone number in E.164."),
            p("name", "string", "Full or partial name."),
            p("postal_code", "string", "Postal code."),
        ],
    ),
    (
        "accounts",
        "update_customer_profile",
        "Update contact details or preferences of a customer. Changing the email requires verification level 2.",
        [
            CUSTOMER_ID,
            p(
                "changes",
                "object",
                "Fields to change: name, phone, email, preferred_language, units.",
                True,
            ),
        ],
    ),
    (
        "accounts",
        "update_communication_preferences",
        "Set how and about what a customer may be contacted (orders, marketing, surveys).",
        [
            CUSTOMER_ID,
            p(
                "order_updates",
                "string",
                "Channel for order updates.",
                False,
                enum=["email", "sms", "push", "none"],
            ),
            p("marketing_opt_in", "boolean", "Marketing consent."),
            p("surveys_opt_in", "boolean", "Survey consent."),
        ],
    ),
    (
        "accounts",
        "send_verification_code",
        "Send a one-time code to the customer's email or phone to verify identity.",
        [
            CUSTOMER_ID,
            p("channel", "string", "Where to send the code.", True, enum=["email", "sms"]),
        ],
    ),
    (
        "accounts",
        "verify_identity",
        "Check a one-time code or knowledge answers and raise the session's verification level.",
        [
            CUSTOMER_ID,
            p("code", "string", "One-time code the customer read back."),
            p("last4_card", "string", "Last 4 digits of a saved card."),
            p("last_order_total", "number", "Total of the most recent order."),
        ],
    ),
    (
        "accounts",
        "reset_password",
        "Send a password reset link. Never read passwords or reset links to the customer.",
        [CUSTOMER_ID],
    ),
    (
        "accounts",
        "lock_account",
        "Lock an account after suspected takeover; signs out all sessions and cancels unshipped orders placed in the last 24 h.",
        [CUSTOMER_ID, REASON],
    ),
    (
        "accounts",
        "unlock_account",
        "Unlock an account after identity is re-verified at level 3.",
        [CUSTOMER_ID, p("verification_id", "string", "Id of the level-3 verification.", True)],
    ),
    (
        "accounts",
        "list_login_events",
        "Recent sign-ins with IP, device, location and MFA result (security review).",
        [CUSTOMER_ID, p("days", "integer", "How many days back.", False, minimum=1, maximum=90)],
    ),
    (
        "accounts",
        "merge_accounts",
        "Merge a duplicate customer account into a primary one (orders, loyalty points, addresses).",
        [
            p("primary_customer_id", "string", "Account that remains.", True),
            p("duplicate_customer_id", "string", "Account merged and closed.", True),
        ],
    ),
    (
        "accounts",
        "delete_customer_data",
        "Start a data-erasure request (GDPR/CCPA). Irreversible after the 30-day grace period.",
        [
            CUSTOMER_ID,
            p(
                "scope",
                "string",
                "What to erase.",
                True,
                enum=["all", "marketing_only", "browsing_history"],
            ),
            p("request_reference", "string", "Privacy request reference.", True),
        ],
    ),
    (
        "accounts",
        "export_customer_data",
        "Prepare a data-portability export of everything stored about a customer.",
        [CUSTOMER_ID, p("format", "string", "Export format.", False, enum=["json", "csv"])],
    ),
    (
        "accounts",
        "acct_flg",
        "flags",
        [p("cid", "string", "cust", True), p("flag", "string", "flag", True)],
    ),
    # ------------------------------------------------------------------ catalog / inventory
    (
        "catalog",
        "search_products",
        "Search the catalogue by text, category, brand, price range and attributes (capacity, temperature rating, weight).",
        [
            p("query", "string", "Search text.", True),
            p(
                "category",
                "string",
                "Category.",
                False,
                enum=[
                    "tents",
                    "sleeping_bags",
                    "backpacks",
                    "footwear",
                    "apparel",
                    "climbing",
                    "paddle",
                    "bikes",
                    "camp_kitchen",
                    "electronics",
                    "optics",
                    "accessories",
                ],
            ),
            p("min_price", "number", "Minimum price."),
            p("max_price", "number", "Maximum price."),
            p("in_stock_only", "boolean", "Only products in stock.", False, default=True),
            LIMIT,
        ],
    ),
    (
        "catalog",
        "get_product",
        "Full product record: description, specifications, sizes, colours, price, rating and care instructions.",
        [p("product_id", "string", "Product id or SKU.", True)],
    ),
    (
        "catalog",
        "check_inventory",
        "Units on hand, reserved and inbound for a SKU per fulfilment centre and store.",
        [SKU, WAREHOUSE],
    ),
    (
        "catalog",
        "reserve_inventory",
        "Reserve units of a SKU for an order or exchange for up to 72 hours.",
        [
            SKU,
            p("quantity", "integer", "Units to reserve.", True, minimum=1),
            p("order_id", "string", "Order the reservation is for.", True),
            WAREHOUSE,
        ],
    ),
    (
        "catalog",
        "get_size_chart",
        "Size chart and fit notes for a product (footwear, apparel, harnesses, wetsuits).",
        [
            p("product_id", "string", "Product id.", True),
            p("region", "string", "Sizing system.", False, enum=["US", "UK", "EU", "JP"]),
        ],
    ),
    (
        "catalog",
        "compare_products",
        "Side-by-side comparison of 2 to 4 products on their main specifications.",
        [p("product_ids", "array", "Products to compare.", True, items={"type": "string"})],
    ),
    (
        "catalog",
        "get_restock_date",
        "Expected restock date of an out-of-stock SKU from open purchase orders.",
        [SKU],
    ),
    (
        "catalog",
        "subscribe_back_in_stock",
        "Email the customer when a SKU is back in stock.",
        [SKU, CUSTOMER_ID],
    ),
    (
        "catalog",
        "get_product_reviews",
        "Customer reviews of a product with rating distribution; filter by rating or keyword.",
        [
            p("product_id", "string", "Product id.", True),
            p("min_rating", "integer", "Minimum stars.", False, minimum=1, maximum=5),
            p("keyword", "string", "Only reviews mentioning this."),
        ],
    ),
    (
        "catalog",
        "find_store_stock",
        "Stores near a postal code with the SKU in stock, for buy-online-pick-up-in-store.",
        [
            SKU,
            p("postal_code", "string", "Customer postal code.", True),
            p("radius_km", "integer", "Search radius.", False, minimum=5, maximum=200),
        ],
    ),
    (
        "catalog",
        "transfer_stock",
        "Move units of a SKU between fulfilment centres.",
        [
            SKU,
            p("from_warehouse", "string", "Source centre.", True),
            p("to_warehouse", "string", "Destination centre.", True),
            p("quantity", "integer", "Units.", True, minimum=1),
        ],
    ),
    (
        "catalog",
        "inv_adj",
        "adjust",
        [p("s", "string", "sku", True), p("d", "integer", "delta", True)],
    ),
    # ------------------------------------------------------------------ support tickets
    (
        "support",
        "create_ticket",
        "Open a support ticket for follow-up by a specialist team, with priority and category.",
        [
            CUSTOMER_ID,
            p("subject", "string", "Short subject line.", True),
            p("description", "string", "What happened and what was already done.", True),
            p(
                "category",
                "string",
                "Category.",
                True,
                enum=[
                    "order",
                    "shipping",
                    "return",
                    "billing",
                    "account",
                    "product",
                    "warranty",
                    "privacy",
                    "other",
                ],
            ),
            p("priority", "string", "Priority.", False, enum=["low", "normal", "high", "urgent"]),
        ],
    ),
    (
        "support",
        "get_ticket",
        "Fetch a ticket with its conversation, status, assignee and SLA timers.",
        [TICKET_ID],
    ),
    (
        "support",
        "update_ticket",
        "Change the status, priority, category or assignee of a ticket.",
        [
            TICKET_ID,
            p(
                "status",
                "string",
                "New status.",
                False,
                enum=["open", "pending_customer", "pending_internal", "solved", "closed"],
            ),
            p(
                "priority",
                "string",
                "New priority.",
                False,
                enum=["low", "normal", "high", "urgent"],
            ),
            p("assignee", "string", "Agent or team id."),
        ],
    ),
    (
        "support",
        "add_ticket_comment",
        "Add a public reply or an internal comment to a ticket.",
        [
            TICKET_ID,
            p("body", "string", "Comment text (markdown).", True),
            p("public", "boolean", "Visible to the customer.", False, default=False),
        ],
    ),
    (
        "support",
        "search_tickets",
        "Search tickets by customer, status, tag, text or date range.",
        [
            CUSTOMER_OPT,
            p(
                "status",
                "string",
                "Status filter.",
                False,
                enum=["open", "pending_customer", "pending_internal", "solved", "closed"],
            ),
            p("tag", "string", "Tag."),
            p("text", "string", "Free text."),
            DATE_FROM,
            DATE_TO,
            LIMIT,
        ],
    ),
    (
        "support",
        "escalate_ticket",
        "Escalate a ticket to tier 2, a supervisor, trust & safety or legal, with a summary for the receiving team.",
        [
            TICKET_ID,
            p(
                "to",
                "string",
                "Escalation target.",
                True,
                enum=["tier2", "supervisor", "trust_safety", "legal", "warehouse_ops"],
            ),
            p("summary", "string", "Why and what was already tried.", True),
        ],
    ),
    (
        "support",
        "merge_tickets",
        "Merge duplicate tickets about the same issue into one.",
        [
            p("primary_ticket_id", "string", "Ticket that remains.", True),
            p(
                "duplicate_ticket_ids",
                "array",
                "Tickets merged in.",
                True,
                items={"type": "string"},
            ),
        ],
    ),
    (
        "support",
        "get_macro",
        "Fetch an approved reply template (macro) by name or topic, with placeholders.",
        [
            p("topic", "string", "Macro name or topic.", True),
            p("language", "string", "Language.", False, enum=["en", "fr", "es", "de", "nl"]),
        ],
    ),
    (
        "support",
        "schedule_callback",
        "Book a phone callback from a specialist in the customer's time zone.",
        [
            CUSTOMER_ID,
            p("start", "string", "Callback start time.", True, format="date-time"),
            p("topic", "string", "Topic.", True),
        ],
    ),
    (
        "support",
        "send_customer_survey",
        "Send the CSAT survey after a ticket is solved.",
        [TICKET_ID],
    ),
    (
        "support",
        "search_knowledge_base",
        "Search help-centre articles and internal troubleshooting guides.",
        [
            p("query", "string", "Search text.", True),
            p(
                "audience",
                "string",
                "Public or internal articles.",
                False,
                enum=["public", "internal"],
            ),
            LIMIT,
        ],
    ),
    (
        "support",
        "tkt_tag",
        "tag tkt",
        [
            p("t", "string", "ticket", True),
            p("tags", "array", "tags", True, items={"type": "string"}),
        ],
    ),
    # ------------------------------------------------------------------ analytics
    (
        "analytics",
        "get_sales_report",
        "Revenue, orders, units and average order value for a period, grouped by day, week, channel, region or category.",
        [
            DATE_FROM,
            DATE_TO,
            p(
                "group_by",
                "string",
                "Grouping.",
                True,
                enum=["day", "week", "month", "channel", "region", "category"],
            ),
            CURRENCY,
        ],
    ),
    (
        "analytics",
        "get_return_rate_report",
        "Return rate and top return reasons by category, product or period.",
        [
            DATE_FROM,
            DATE_TO,
            p(
                "group_by",
                "string",
                "Grouping.",
                True,
                enum=["category", "product", "reason", "month"],
            ),
        ],
    ),
    (
        "analytics",
        "get_support_metrics",
        "Support KPIs: first response time, resolution time, CSAT, contact rate, backlog by team.",
        [DATE_FROM, DATE_TO, p("team", "string", "Team id; omit for all.")],
    ),
    (
        "analytics",
        "get_inventory_health",
        "Days of cover, stock-outs, overstock and aged inventory by category and fulfilment centre.",
        [WAREHOUSE, p("category", "string", "Category.")],
    ),
    (
        "analytics",
        "get_customer_lifetime_value",
        "Lifetime value, order count, return rate and churn risk of one customer.",
        [CUSTOMER_ID],
    ),
    (
        "analytics",
        "get_cohort_retention",
        "Repeat-purchase retention of monthly acquisition cohorts.",
        [
            p("cohort_start", "string", "First cohort month (YYYY-MM).", True),
            p("months", "integer", "Months to follow.", False, minimum=1, maximum=24),
        ],
    ),
    (
        "analytics",
        "get_delivery_performance",
        "On-time delivery rate and average transit days by carrier, service level and region.",
        [
            DATE_FROM,
            DATE_TO,
            p(
                "carrier",
                "string",
                "Carrier.",
                False,
                enum=["ups", "fedex", "usps", "canada_post", "dhl", "postnl"],
            ),
        ],
    ),
    (
        "analytics",
        "run_saved_query",
        "Run a saved analytics query by name with parameters and return the table.",
        [
            p("query_name", "string", "Saved query name.", True),
            p("params", "object", "Query parameters."),
        ],
    ),
    (
        "analytics",
        "export_report",
        "Export a report as CSV or XLSX and return a download link valid for 24 hours.",
        [
            p("report", "string", "Report name.", True),
            p("format", "string", "File format.", False, enum=["csv", "xlsx"]),
            DATE_FROM,
            DATE_TO,
        ],
    ),
    (
        "analytics",
        "get_fraud_signals",
        "Fraud score and the signals behind it for an order (velocity, address mismatch, device, proxy).",
        [ORDER_ID],
    ),
    ("analytics", "rpt_x", "report", [p("n", "string", "name", True)]),
    # ------------------------------------------------------------------ marketing / loyalty
    (
        "marketing",
        "get_loyalty_account",
        "Summit Rewards balance, tier, points history and expiring points of a customer.",
        [CUSTOMER_ID],
    ),
    (
        "marketing",
        "adjust_loyalty_points",
        "Add or remove Summit Rewards points (goodwill, missing points, reversal).",
        [CUSTOMER_ID, p("points", "integer", "Points to add (negative to remove).", True), REASON],
    ),
    (
        "marketing",
        "validate_promo_code",
        "Check whether a promo code is valid for a cart or order and what it would discount.",
        [
            p("code", "string", "Promo code.", True),
            p("order_id", "string", "Order to test against."),
        ],
    ),
    (
        "marketing",
        "apply_promo_code",
        "Apply a promo code retroactively to an order placed in the last 7 days.",
        [ORDER_ID, p("code", "string", "Promo code.", True)],
    ),
    (
        "marketing",
        "create_promo_code",
        "Create a single-use goodwill code for a customer (max 20 % or 50.00).",
        [
            CUSTOMER_ID,
            p(
                "discount_type",
                "string",
                "Discount type.",
                True,
                enum=["percent", "amount", "free_shipping"],
            ),
            p("value", "number", "Percent or amount.", True),
            p("expires_on", "string", "Expiry date.", False, format="date"),
        ],
    ),
    (
        "marketing",
        "list_active_campaigns",
        "Running promotions and campaigns with their dates, segments and codes.",
        [p("channel", "string", "Channel.", False, enum=["email", "sms", "web", "app", "store"])],
    ),
    (
        "marketing",
        "get_campaign_performance",
        "Sends, opens, clicks, conversions and revenue of a campaign.",
        [p("campaign_id", "string", "Campaign id.", True)],
    ),
    (
        "marketing",
        "add_to_segment",
        "Add a customer to a marketing segment (requires marketing consent).",
        [CUSTOMER_ID, p("segment", "string", "Segment name.", True)],
    ),
    (
        "marketing",
        "unsubscribe_customer",
        "Unsubscribe a customer from all marketing on every channel immediately.",
        [
            CUSTOMER_ID,
            p(
                "source",
                "string",
                "Where the request came from.",
                False,
                enum=["chat", "email_reply", "phone", "complaint"],
            ),
        ],
    ),
    (
        "marketing",
        "get_product_recommendations",
        "Personalised product recommendations for a customer or similar products for a SKU.",
        [p("customer_id", "string", "Customer id."), p("sku", "string", "Anchor SKU."), LIMIT],
    ),
    ("marketing", "mkt_sync", "sync", [p("seg", "string", "segment", True)]),
    # ------------------------------------------------------------------ HR / internal
    (
        "internal",
        "get_agent_schedule",
        "Shift schedule of support agents for a date, with breaks and skills.",
        [p("date", "string", "Date.", True, format="date"), p("team", "string", "Team id.")],
    ),
    (
        "internal",
        "request_time_off",
        "Submit a time-off request for an employee.",
        [
            p("employee_id", "string", "Employee id, e.g. 'EMP-0412'.", True),
            p("start", "string", "First day.", True, format="date"),
            p("end", "string", "Last day.", True, format="date"),
            p(
                "type",
                "string",
                "Leave type.",
                True,
                enum=["vacation", "sick", "personal", "parental"],
            ),
        ],
    ),
    (
        "internal",
        "lookup_employee",
        "Find an employee's team, manager, location and on-call status.",
        [p("query", "string", "Name, email or employee id.", True)],
    ),
    (
        "internal",
        "get_on_call",
        "Who is on call now for a team (warehouse ops, payments, platform, trust & safety).",
        [
            p(
                "team",
                "string",
                "Team.",
                True,
                enum=["warehouse_ops", "payments", "platform", "trust_safety", "legal"],
            )
        ],
    ),
    (
        "internal",
        "create_incident",
        "Declare an internal incident (outage, data issue, carrier failure) and page the on-call.",
        [
            p("title", "string", "Title.", True),
            p("severity", "string", "Severity.", True, enum=["sev1", "sev2", "sev3", "sev4"]),
            p("description", "string", "Impact and symptoms.", True),
        ],
    ),
    (
        "internal",
        "get_policy_document",
        "Fetch the current internal policy document by id or title (SOPs, approval limits).",
        [p("document", "string", "Document id or title.", True)],
    ),
    (
        "internal",
        "log_coaching_note",
        "Record a QA coaching note for an agent after a conversation review.",
        [
            p("employee_id", "string", "Employee id.", True),
            p("conversation_id", "string", "Reviewed conversation.", True),
            p("note", "string", "Coaching note.", True),
        ],
    ),
    (
        "internal",
        "request_approval",
        "Ask a supervisor to approve an action above the agent limit (refund > 250.00, goodwill > 50.00, policy exception).",
        [
            p("action", "string", "Action needing approval.", True),
            p("amount", "number", "Amount involved."),
            p("justification", "string", "Why the exception is warranted.", True),
        ],
    ),
    (
        "internal",
        "get_approval_status",
        "Status of an approval request.",
        [p("approval_id", "string", "Approval id.", True)],
    ),
    (
        "internal",
        "submit_expense",
        "Submit an expense report line for an employee.",
        [
            p("employee_id", "string", "Employee id.", True),
            p("amount", "number", "Amount.", True),
            CURRENCY,
            p(
                "category",
                "string",
                "Expense category.",
                True,
                enum=["travel", "meals", "equipment", "training", "other"],
            ),
        ],
    ),
    ("internal", "hr_q", "hr", [p("e", "string", "emp", True)]),
    # ------------------------------------------------------------------ utility (weather / maps / misc)
    (
        "utility",
        "get_weather_forecast",
        "Weather forecast for a place and date range (used for trip-gear advice and carrier delay explanations).",
        [
            p("location", "string", "City, postal code or 'lat,lon'.", True),
            p("days", "integer", "Days ahead.", False, minimum=1, maximum=10),
            p("units", "string", "Units.", False, enum=["metric", "imperial"]),
        ],
    ),
    (
        "utility",
        "get_trail_conditions",
        "Trail, snow and avalanche conditions for a park or trail head.",
        [p("location", "string", "Park or trail name.", True)],
    ),
    (
        "utility",
        "geocode_address",
        "Turn an address into coordinates and a time zone.",
        [p("address", "string", "Address.", True)],
    ),
    (
        "utility",
        "get_route_distance",
        "Driving distance and time between two places.",
        [
            p("origin", "string", "Origin.", True),
            p("destination", "string", "Destination.", True),
            p("units", "string", "Units.", False, enum=["metric", "imperial"]),
        ],
    ),
    (
        "utility",
        "find_nearest_store",
        "Nearest Northwind stores to a place with opening hours and services (bike shop, ski tuning, rentals).",
        [p("location", "string", "City, postal code or 'lat,lon'.", True), LIMIT],
    ),
    (
        "utility",
        "convert_currency",
        "Convert an amount between currencies at today's rate.",
        [
            p("amount", "number", "Amount.", True),
            p("from_currency", "string", "Source currency.", True),
            p("to_currency", "string", "Target currency.", True),
        ],
    ),
    (
        "utility",
        "get_local_time",
        "Current local time and business hours status for a time zone or city.",
        [p("location", "string", "City or IANA time zone.", True)],
    ),
    (
        "utility",
        "translate_text",
        "Translate a short text between English, French, Spanish, German and Dutch.",
        [
            p("text", "string", "Text.", True),
            p(
                "target_language",
                "string",
                "Target language.",
                True,
                enum=["en", "fr", "es", "de", "nl"],
            ),
        ],
    ),
    (
        "utility",
        "get_public_holidays",
        "Public holidays of a country or region (carrier and warehouse closures).",
        [p("country", "string", "Country code.", True), p("year", "integer", "Year.", True)],
    ),
    (
        "utility",
        "calc_dim_weight",
        "dim wt",
        [p("l", "number", "cm", True), p("w", "number", "cm", True), p("h", "number", "cm", True)],
    ),
    # ------------------------------------------------------------------ rentals / services
    (
        "services",
        "book_rental",
        "Reserve rental gear (skis, snowboards, kayaks, tents) at a store for a date range.",
        [
            p("store_id", "string", "Store id, e.g. 'ST-PDX-02'.", True),
            p(
                "items",
                "array",
                "Rental SKUs with quantities 'SKU:qty'.",
                True,
                items={"type": "string"},
            ),
            p("start", "string", "Pick-up date.", True, format="date"),
            p("end", "string", "Return date.", True, format="date"),
            CUSTOMER_ID,
        ],
    ),
    (
        "services",
        "cancel_rental",
        "Cancel a rental booking; free until 48 hours before pick-up.",
        [p("booking_id", "string", "Rental booking id.", True)],
    ),
    (
        "services",
        "book_service_appointment",
        "Book a workshop appointment (bike tune-up, ski wax, boot fitting, stove repair).",
        [
            p("store_id", "string", "Store id.", True),
            p(
                "service",
                "string",
                "Service.",
                True,
                enum=["bike_tune_up", "ski_wax", "boot_fitting", "stove_repair", "tent_seam_seal"],
            ),
            p("start", "string", "Appointment time.", True, format="date-time"),
            CUSTOMER_ID,
        ],
    ),
    (
        "services",
        "get_workshop_job",
        "Status of a workshop job ticket (received, waiting parts, ready for pick-up).",
        [p("job_id", "string", "Workshop job id.", True)],
    ),
    (
        "services",
        "list_classes",
        "Outdoor classes and guided trips at a store (navigation, avalanche safety, kayaking basics).",
        [p("store_id", "string", "Store id.", True), DATE_FROM, DATE_TO],
    ),
    (
        "services",
        "register_for_class",
        "Register a customer for a class or guided trip and take the fee.",
        [
            p("class_id", "string", "Class id.", True),
            CUSTOMER_ID,
            p("participants", "integer", "Number of people.", False, minimum=1, maximum=8),
        ],
    ),
    (
        "services",
        "get_gear_repair_quote",
        "Repair estimate for damaged gear (zipper, tent pole, down baffle, sole) from the repair partner.",
        [
            p("product_id", "string", "Product id.", True),
            p("damage", "string", "Description of the damage.", True),
        ],
    ),
    ("services", "svc_ping", "ping", []),
]

DOMAIN_TITLES: dict[str, str] = {
    "orders": "Orders",
    "shipping": "Shipping & delivery",
    "returns": "Returns, refunds & warranty",
    "billing": "Billing & payments",
    "accounts": "Accounts & security",
    "catalog": "Catalog & inventory",
    "support": "Support tickets",
    "analytics": "Analytics & reports",
    "marketing": "Marketing & loyalty",
    "internal": "HR & internal",
    "utility": "Weather, maps & utilities",
    "services": "Rentals & workshop services",
}


def build_tools() -> list[dict[str, Any]]:
    """Return the tools as OpenAI-style function schemas (``{"type": "function", ...}``)."""
    tools: list[dict[str, Any]] = []
    for _domain, name, description, params in SPECS:
        properties: dict[str, Any] = {}
        required: list[str] = []
        for pname, kind, pdesc, req, extra in params:
            prop: dict[str, Any] = {"type": kind, "description": pdesc}
            prop.update(extra)
            properties[pname] = prop
            if req:
                required.append(pname)
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            schema["required"] = required
        tools.append(
            {
                "type": "function",
                "function": {"name": name, "description": description, "parameters": schema},
            }
        )
    return tools


def tool_domains() -> dict[str, str]:
    """Map each tool name to its domain."""
    return {name: domain for domain, name, _d, _p in SPECS}


#: The read-only tools whose results may be served again, with their lifetime in seconds
#: (``build_optimized_agent(cacheable_tools=...)``): reference data (policies, FAQs, store
#: directory, size charts, product pages), forecasts, and analytics reports over closed
#: periods. Everything else is not cacheable: tools that book, cancel, send or change
#: something, and tools that read live or personal data (orders, tracking, stock, points,
#: returns, who is on call now), so a turn that called one is never stored.
CACHEABLE_TOOLS: dict[str, int] = {
    # reference data, refreshed daily
    "get_policy_document": 86_400,
    "search_knowledge_base": 86_400,
    "get_macro": 86_400,
    "find_nearest_store": 86_400,
    "get_public_holidays": 86_400,
    "get_size_chart": 86_400,
    # catalog pages and reviews
    "get_product": 3_600,
    "compare_products": 3_600,
    "get_product_reviews": 3_600,
    # forecasts and trail reports
    "get_weather_forecast": 1_800,
    "get_trail_conditions": 1_800,
    # analytics over past periods
    "get_sales_report": 3_600,
    "get_return_rate_report": 3_600,
    "get_delivery_performance": 3_600,
    "get_cohort_retention": 3_600,
}


def cacheable_tools() -> dict[str, int]:
    """Return ``{tool name: lifetime in seconds}`` of the cacheable tools (all in SPECS)."""
    names = {name for _domain, name, _d, _p in SPECS}
    unknown = sorted(set(CACHEABLE_TOOLS) - names)
    if unknown:
        msg = f"CACHEABLE_TOOLS names unknown tools: {', '.join(unknown)}"
        raise ValueError(msg)
    return dict(sorted(CACHEABLE_TOOLS.items()))
