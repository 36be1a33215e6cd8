"""Event properties the shipped templates use, as apps would send them."""

CART_PROPS = {"currency": "EUR", "item_count": 2, "cart_url": "https://shop.example/cart"}
VIP_PROPS = {
    "sale_name": "Winter Private Sale",
    "sale_date": "2026-12-05",
    "sale_url": "https://shop.example/private-sale",
}
