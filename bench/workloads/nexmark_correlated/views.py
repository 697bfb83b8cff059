from ontoc import Store, ViewModel, attrs, many, one

from .models import Auction, Bid


class AuctionBidsStore(Store):
    auction = one(Auction)
    bids = many(Bid, on="auction")


class AuctionBids(ViewModel):
    """Correlated collections: bids at least the auction's initial bid, and bids equal to the best one."""

    class Meta:
        topic = "nx_auction_bids"
        store = AuctionBidsStore

    @attrs.getter
    def valid_bids(self) -> int:
        return len([b for b in self.store.bids if b.price >= self.store.auction.initial_bid])

    @attrs.getter
    def top_bids(self) -> int:
        return len([b for b in self.store.bids if b.price == max(x.price for x in self.store.bids)])
