//! SMTP wire grammar: replies, commands, EHLO capabilities and DATA framing.
