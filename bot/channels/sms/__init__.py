"""Text messages through Alibaba Cloud or Tencent Cloud SMS (see docs/channels.md)."""
