from ontoc import Store, ViewModel, attrs, one

from .models import Auction, Bid


class BidStore(Store):
    bid = one(Bid)


class CategoryBid(ViewModel):
    """Bids on auctions of category 10, with the auction's item (Nexmark Q1/Q3-like join)."""

    class Meta:
        topic = "nx_category_bids"
        store = BidStore

    @attrs.getter
    def auction(self) -> str:
        return self.store.bid.auction.doc_id

    @attrs.getter
    def item_name(self) -> str:
        return self.store.bid.auction.item_name

    @attrs.getter
    def bidder(self) -> str:
        return self.store.bid.bidder

    @attrs.getter
    def price(self) -> int:
        return self.store.bid.price

    @attrs.getter
    def above_reserve(self) -> bool:
        return self.store.bid.price >= self.store.bid.auction.reserve

    @attrs.where
    def in_category(self) -> bool:
        return self.store.bid.auction.category == 10


class AuctionStore(Store):
    auction = one(Auction)


class LocalAuction(ViewModel):
    """Auctions whose seller lives in OR, ID or CA (Nexmark Q3)."""

    class Meta:
        topic = "nx_local_auctions"
        store = AuctionStore

    @attrs.getter
    def item_name(self) -> str:
        return self.store.auction.item_name

    @attrs.getter
    def seller_name(self) -> str:
        return self.store.auction.seller.name

    @attrs.getter
    def city(self) -> str:
        return self.store.auction.seller.city

    @attrs.getter
    def state(self) -> str:
        return self.store.auction.seller.state

    @attrs.where
    def local_seller(self) -> bool:
        return self.store.auction.seller.state in ("OR", "ID", "CA")
