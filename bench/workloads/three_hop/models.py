from ontoc import DomainModel, attrs


class Country(DomainModel):
    class Meta:
        topic = "th_countries"

    name: str
    code: str
    eu: bool = False


class City(DomainModel):
    class Meta:
        topic = "th_cities"

    name: str
    country: Country = attrs.ref()


class Warehouse(DomainModel):
    class Meta:
        topic = "th_warehouses"

    name: str
    city: City = attrs.ref()


class Shipment(DomainModel):
    class Meta:
        topic = "th_shipments"

    warehouse: Warehouse = attrs.ref()
    weight: float
    status: str
