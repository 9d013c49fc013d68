"""HL7 v2 over MLLP: the HIS integration."""
