//! DANE for SMTP (RFC 7672, 6698, 7671): TLSA records and their use.
