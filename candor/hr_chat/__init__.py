"""HR approvals where HR already is: WeCom (企业微信) app messages and Telegram.

- `binding`: an HR user binds their WeCom userid / Telegram chat with a one-time code from
  the console (only its hash is kept, in Redis, for 10 minutes).
- `cards`: an approval card per (subject, bound HR user, platform), written in the
  transaction of the event that warrants it (a draft awaiting approval), closed when the
  subject is decided anywhere (console, API, chat).
- `actions`: a button click or the reason for a rejection, through the same outreach service
  as the console, with the clicker's scope checked at click time; idempotent.
- `queue`: the delivery loop's queue that sends new cards and updates decided ones, after
  commit, through a `CardSender` per platform (bot/channels/wecom.py, bot/channels/telegram).
"""
