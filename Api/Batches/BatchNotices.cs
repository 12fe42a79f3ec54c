using Notifications.Queue;
using Notifications.Stores;
using Notifications.Tasks;
using Notifications.Templates;

namespace Api.Batches;

/// <summary>The notice a student gets on joining a batch: an SMS and an email, once per batch, student and channel.</summary>
public sealed class BatchNotices(NotificationTemplates templates, NotificationTaskFactory tasks)
{
    /// <summary>Called by the batch store inside the transaction that adds <paramref name="member"/>.</summary>
    public IReadOnlyList<PreparedTask> For(BatchMember member)
    {
        var (batch, student) = (member.Batch, member.Student);
        var model = new NotificationModel { StudentName = student.Name, Username = student.RollNumber, BatchName = batch.Name };
        var sms = templates.Render(TemplateNames.BatchNotice, NotificationType.Sms, model);
        var email = templates.Render(TemplateNames.BatchNotice, NotificationType.Email, model);
        var correlation = new Correlation { BatchId = batch.Id, StudentId = student.Id };
        return tasks.PrepareAll(
        [
            NotificationRequest.Sms(student.Phone, sms.TextBody, NotificationPriority.Bulk) with
            {
                IdempotencyKey = $"batch:{batch.Id}:{student.Id}:sms", Correlation = correlation,
            },
            NotificationRequest.Email(student.Email, email.Subject!, email.TextBody, email.HtmlBody, NotificationPriority.Bulk) with
            {
                IdempotencyKey = $"batch:{batch.Id}:{student.Id}:email", Correlation = correlation,
            },
        ]);
    }
}
