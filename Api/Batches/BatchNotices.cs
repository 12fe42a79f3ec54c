using Api.Sending;
using Notifications.Queue;
using Notifications.Stores;
using Notifications.Tasks;
using Notifications.Templates;

namespace Api.Batches;

/// <summary>The notice a student gets on joining a batch: an SMS and an email, once per batch, student and channel.</summary>
public sealed class BatchNotices(StudentMessages messages)
{
    /// <summary>Called by the batch store inside the transaction that adds <paramref name="member"/>.</summary>
    public IReadOnlyList<PreparedTask> For(BatchMember member)
    {
        var (batch, student) = (member.Batch, member.Student);
        var model = new NotificationModel { StudentName = student.Name, Username = student.RollNumber, BatchName = batch.Name };
        return messages.Prepare(TemplateNames.BatchNotice, model, student, $"batch:{batch.Id}:{student.Id}",
            new Correlation { BatchId = batch.Id, StudentId = student.Id }, NotificationPriority.Bulk);
    }
}
