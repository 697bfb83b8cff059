from ontoc import Store, ViewModel, attrs, one

from .models import Shipment


class ShipmentStore(Store):
    shipment = one(Shipment)


class ShipmentCard(ViewModel):
    class Meta:
        topic = "th_shipment_cards"
        store = ShipmentStore

    @attrs.getter
    def warehouse(self) -> str:
        return self.store.shipment.warehouse.name

    @attrs.getter
    def city(self) -> str:
        return self.store.shipment.warehouse.city.name

    @attrs.getter
    def country(self) -> str:
        return self.store.shipment.warehouse.city.country.name

    @attrs.getter
    def destination(self) -> str:
        city = self.store.shipment.warehouse.city
        return f"{city.name}, {city.country.code}"

    @attrs.getter
    def eu(self) -> bool:
        return self.store.shipment.warehouse.city.country.eu

    @attrs.getter
    def heavy(self) -> bool:
        return self.store.shipment.weight > 20
