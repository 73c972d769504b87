"""``countersign mailer``: sends the confirmation mails that the dedupe stage asks for
on ``mail.outbox`` (compose, SMTP, the Kafka-driven loop). Loads no Faust."""
