from ontoc import DomainModel, attrs


class Country(DomainModel):
    class Meta:
        topic = "lib_countries"

    name: str
    code: str


class Author(DomainModel):
    class Meta:
        topic = "lib_authors"

    first: str
    last: str
    middle: str | None = None
    country: Country = attrs.ref()
    born: int | None = None


class Publisher(DomainModel):
    class Meta:
        topic = "lib_publishers"

    name: str
    head: Author = attrs.ref()


class Book(DomainModel):
    class Meta:
        topic = "lib_books"

    title: str
    author: Author = attrs.ref()
    publisher: Publisher = attrs.ref()
    year: int
    pages: int | None = None
    isbn: str = ""
    editor_id: str | None = None


class Loan(DomainModel):
    class Meta:
        topic = "lib_loans"

    book: Book = attrs.ref()
    member: str
    days: int
    returned: bool = False
