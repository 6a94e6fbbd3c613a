output "topic_arn" {
  description = "The alarm topic: subscribe pagers or chat here."
  value       = aws_sns_topic.alarms.arn
}

output "alarm_arns" {
  description = "Every alarm, for the dashboard's alarm panel."
  value       = [for alarm in aws_cloudwatch_metric_alarm.this : alarm.arn]
}
