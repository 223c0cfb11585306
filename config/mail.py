from django.core.mail.backends.console import EmailBackend as ConsoleBackend
from django.core.mail.backends.filebased import EmailBackend as FileBackend


class FileAndConsoleEmailBackend(FileBackend):
    """The embedded set-up: each mail is written under var/mail/ and printed to the console."""

    def send_messages(self, email_messages):
        sent = super().send_messages(email_messages)
        ConsoleBackend().send_messages(email_messages)
        return sent
