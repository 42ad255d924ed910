"""Services: the domain rules over the store. Only this layer and ``store`` speak SQL."""
