using Notifications.Queue;
using Notifications.Stores;
using Notifications.Tasks;
using Notifications.Templates;

namespace Api.Sending;

/// <summary>
/// One message to a student by both channels: an SMS and an email rendered from the same template and model,
/// keyed <c>&lt;key&gt;:sms</c> and <c>&lt;key&gt;:email</c> so that each is sent once whatever happens to the
/// request that caused it (a retry, the relay moving it twice), and prepared with their task ids so they can be
/// stored in the transaction that causes them.
/// </summary>
public sealed class StudentMessages(NotificationTemplates templates, NotificationTaskFactory tasks)
{
    /// <exception cref="InvalidNotificationException">A rendered message breaks the queue's rules.</exception>
    public IReadOnlyList<PreparedTask> Prepare(
        string template, NotificationModel model, Student student, string key, Correlation correlation, NotificationPriority priority)
    {
        var sms = templates.Render(template, NotificationType.Sms, model);
        var email = templates.Render(template, NotificationType.Email, model);
        return tasks.PrepareAll(
        [
            NotificationRequest.Sms(student.Phone, sms.TextBody, priority) with { IdempotencyKey = $"{key}:sms", Correlation = correlation },
            NotificationRequest.Email(student.Email, email.Subject!, email.TextBody, email.HtmlBody, priority) with
            {
                IdempotencyKey = $"{key}:email", Correlation = correlation,
            },
        ]);
    }
}
