using NotificationWorker.Sending;
using Notifications.Tasks;

namespace NotificationWorker.Tests.Support;

public static class Messages
{
    public static OutgoingMessage Sms(string to = "+27831234567", string taskId = "task-1") =>
        new(taskId, NotificationType.Sms, to, null, "Hi Thandi, welcome to AI-VERSANT!", null);

    public static OutgoingMessage Email(string to = "thandi@example.org", string taskId = "task-1") =>
        new(taskId, NotificationType.Email, to, "Welcome to AI-VERSANT", "Hi Thandi,\nwelcome.\n", "<p>Hi Thandi,</p><p>welcome.</p>");
}
