"""One module a stage of the flow: ingestion → features → training → registry → deployment."""
