// The shop's state lives in localStorage["app:shop"]: {cart: {productId: quantity}, orders: [...]}.
const PRODUCTS = [
  {id: "mug", name: "Mug", price: 8},
  {id: "tshirt", name: "T-shirt", price: 15},
  {id: "poster", name: "Poster", price: 5},
  {id: "cap", name: "Cap", price: 12},
];
const load = () => JSON.parse(localStorage.getItem("app:shop") || '{"cart": {}, "orders": []}');
const save = (state) => localStorage.setItem("app:shop", JSON.stringify(state));
function addToCart(id) { const s = load(); s.cart[id] = (s.cart[id] || 0) + 1; save(s); }
function cartCount() { return Object.values(load().cart).reduce((a, b) => a + b, 0); }
function renderCartLink() {
  document.getElementById("cart-link").textContent = `Cart (${cartCount()} items)`;
}
