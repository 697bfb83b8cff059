"""Domain models: one Kafka topic of change events each."""

from ontoc import DomainModel, attrs


class Location(DomainModel):
    class Meta:
        topic = "locations"

    address: str
    latitude: float
    longitude: float


class User(DomainModel):
    class Meta:
        topic = "users"

    first_name: str
    last_name: str
    organization: str | None = None
    hearing_aid_requested: bool = False


class Meeting(DomainModel):
    class Meta:
        topic = "meetings"

    status: str  # "not-started" | "in-session" | "closed"
    location: Location = attrs.ref()


class Ticket(DomainModel):
    class Meta:
        topic = "tickets"

    meeting: Meeting = attrs.ref()
    user: User = attrs.ref()
    role: str
    attendance: bool = False
