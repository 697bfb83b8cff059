"""The meeting-session view: one row per meeting, re-emitted when attendance changes."""

from ontoc import Store, ViewModel, attrs, many, one

from .models import Meeting, Ticket


class MeetingSessionStore(Store):
    meeting = one(Meeting)  # the root: one view row per meeting
    tickets = many(Ticket, on="meeting")  # tickets whose .meeting is the root


class MeetingSession(ViewModel):
    class Meta:
        topic = "meeting_sessions"  # sink topic, key = root doc_id
        store = MeetingSessionStore

    @attrs.getter
    def in_session(self) -> bool:
        return self.store.meeting.status == "in-session"

    @attrs.getter
    def address(self) -> str | None:
        return self.store.meeting.location.address

    @attrs.getter
    def attending(self) -> list[dict]:
        if self.store.meeting.status == "not-started":
            return []
        return sorted(
            ({"name": self.display_name(t.user),
              "organization": t.user.organization,
              "hearing_aid_requested": t.user.hearing_aid_requested}
             for t in self.store.tickets if t.attendance),
            key=lambda d: d["name"])

    @attrs.getter
    def num_hearing_aid_requested(self) -> int:
        return len([d for d in self.attending if d["hearing_aid_requested"]])

    @staticmethod
    def display_name(user) -> str:
        return "{} {}".format(user.first_name, user.last_name)

    @classmethod
    def median(cls, values) -> float | None:
        xs = sorted(values)
        return xs[len(xs) // 2] if xs else None

    @attrs.where
    def is_live(self) -> bool:  # the row exists only while true
        return self.store.meeting.status != "deleted"
