from ontoc import DomainModel, attrs


class Person(DomainModel):
    class Meta:
        topic = "nx_persons"

    name: str
    email: str
    city: str
    state: str


class Auction(DomainModel):
    class Meta:
        topic = "nx_auctions"

    item_name: str
    initial_bid: int
    reserve: int
    category: int
    seller: Person = attrs.ref()


class Bid(DomainModel):
    class Meta:
        topic = "nx_bids"

    auction: Auction = attrs.ref()
    bidder: str
    price: int
    channel: str
