"""Read side of the CPF ledger: views kept up to date from the event log."""
