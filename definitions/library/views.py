from ontoc import Store, ViewModel, attrs, many, one

from .models import Author, Book, Loan


class BookStore(Store):
    book = one(Book)
    loans = many(Loan, on="book")
    editor = one(Author, key=lambda s: s.book.editor_id)


class BookCard(ViewModel):
    """Strings, slicing, f-strings, lookups and three-hop references."""

    class Meta:
        topic = "lib_book_cards"
        store = BookStore

    @property
    def author(self):
        return self.store.book.author

    @attrs.getter
    def title(self) -> str:
        return self.store.book.title.strip().upper()

    @attrs.getter
    def byline(self) -> str:
        a = self.author
        if a.middle:
            return f"{a.first} {a.middle[0]}. {a.last}"
        return "{} {}".format(a.first, a.last)

    @attrs.getter
    def initials(self) -> str:
        return self.author.first[:1] + self.author.last[:1]

    @attrs.getter
    def country(self) -> str | None:
        return self.store.book.author.country.name

    @attrs.getter
    def publisher_head_country(self) -> str | None:
        return self.store.book.publisher.head.country.code.lower()

    @attrs.getter
    def has_publisher(self) -> bool:
        return self.store.book.publisher is not None

    @attrs.getter
    def editor_name(self) -> str | None:
        if self.store.editor is None:
            return None
        return self.store.editor.last

    @attrs.getter
    def label(self) -> str:
        return f"{self.store.book.title[-3:]}|{self.store.book.year}|{self.store.book.pages}|{self.has_publisher}"

    @attrs.getter
    def isbn_ok(self) -> bool:
        isbn = self.store.book.isbn.replace("-", "")
        return len(isbn) in (10, 13) and isbn.startswith("97") and not isbn.endswith("X")

    @attrs.getter
    def classic(self) -> bool:
        return self.store.book.year < 1950 or "classic" in self.store.book.title.lower()

    @attrs.getter
    def age_of_author(self) -> int | None:
        born = self.author.born
        return self.store.book.year - born if born is not None else None

    @attrs.getter
    def short_title(self) -> str:
        t = self.store.book.title
        return t if len(t) <= 8 else t[:5] + "..."

    @attrs.getter
    def open_loans(self) -> int:
        return len([loan for loan in self.store.loans if not loan.returned])

    @attrs.getter
    def members(self) -> list[str]:
        return sorted({loan.member.strip() for loan in self.store.loans})

    @attrs.getter
    def longest_loan(self) -> int | None:
        return max((loan.days for loan in self.store.loans), default=None)

    @attrs.getter
    def loan_cards(self) -> list[dict]:
        return sorted(({"member": loan.member, "days": loan.days, "late": loan.days > 14}
                       for loan in self.store.loans if loan.days >= 0),
                      key=lambda d: d["days"], reverse=True)

    @attrs.getter
    def late_members(self) -> int:
        return len([c for c in self.loan_cards if c["late"]])

    @attrs.where
    def catalogued(self) -> bool:
        return self.store.book.title
