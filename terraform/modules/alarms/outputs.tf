output "topic_arn" {
  description = "The alarm topic: subscribe pagers or chat here."
  value       = aws_sns_topic.alarms.arn
}
