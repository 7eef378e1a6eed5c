"""Write side of the CPF ledger: identifiers, acquisition rules, the Agent aggregate and the application."""
