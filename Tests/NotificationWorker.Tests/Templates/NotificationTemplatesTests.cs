using NotificationWorker.Sending;
using Notifications.Templates;
using Notifications.Tasks;

namespace NotificationWorker.Tests.Templates;

public sealed class NotificationTemplatesTests
{
    private static readonly NotificationTemplates Templates = new();

    private static readonly NotificationModel Thandi = new()
    {
        StudentName = "Thandi Mokoena",
        Username = "thandi.m",
        LoginUrl = "https://versant.example/login",
        FormTitle = "Week 3 speaking test",
        FormUrl = "https://versant.example/forms/42",
        SubmittedAt = new DateTimeOffset(2026, 11, 26, 9, 30, 0, TimeSpan.Zero),
        BatchName = "B-2026-07",
        CourseName = "English Versant",
    };

    public static TheoryData<string> Names => [.. TemplateNames.All];

    [Theory]
    [MemberData(nameof(Names))]
    public void Render_ProducesSmsAndEmailWithTextAndHtml_ForEveryTemplate(string name)
    {
        var sms = Templates.Render(name, NotificationType.Sms, Thandi);
        var email = Templates.Render(name, NotificationType.Email, Thandi);

        Assert.Null(sms.Subject);
        Assert.Null(sms.HtmlBody);
        Assert.Contains("Thandi Mokoena", sms.TextBody);
        Assert.DoesNotContain("{{", sms.TextBody);
        Assert.False(string.IsNullOrWhiteSpace(email.Subject));
        Assert.Contains("Thandi Mokoena", email.TextBody);
        Assert.Contains("Thandi Mokoena", email.HtmlBody);
        Assert.StartsWith("<!DOCTYPE html>", email.HtmlBody);
        Assert.Contains($"<title>{email.Subject}</title>", email.HtmlBody);
    }

    [Fact]
    public void Render_FillsTheSubmissionDetails()
    {
        var email = Templates.Render(TemplateNames.SubmissionConfirmation, NotificationType.Email, Thandi);

        Assert.Equal("We received your submission: Week 3 speaking test", email.Subject);
        Assert.Contains("on 26 Nov 2026, 09:30 UTC", email.TextBody);
        Assert.Contains("<a href=\"https://versant.example/forms/42\">", email.HtmlBody);
    }

    [Fact]
    public void Render_LeavesOutOptionalLines_WhenTheirValuesAreMissing()
    {
        var sms = Templates.Render(TemplateNames.Welcome, NotificationType.Sms, new NotificationModel { StudentName = "Sipho" });

        Assert.Equal("Hi Sipho, welcome to AI-VERSANT!", sms.TextBody);
    }

    [Fact]
    public void Render_HtmlEncodesHostileValues_InTheHtmlPartOnly()
    {
        var hostile = Thandi with
        {
            StudentName = "<script>alert('x')</script>",
            BatchName = "\"><img src=x onerror=alert(1)>",
            LoginUrl = "javascript:alert(1)\" onclick=\"alert(2)",
        };

        var email = Templates.Render(TemplateNames.Welcome, NotificationType.Email, hostile);

        Assert.DoesNotContain("<script>", email.HtmlBody);
        Assert.DoesNotContain("<img", email.HtmlBody);
        Assert.DoesNotContain("\" onclick=\"", email.HtmlBody);
        Assert.Contains("&lt;script&gt;", email.HtmlBody);
        Assert.Contains("<script>alert('x')</script>", email.TextBody);
    }

    [Fact]
    public void Render_Throws_ForAnUnknownTemplate()
    {
        Assert.Throws<ArgumentException>(() => Templates.Render("no-such-template", NotificationType.Sms, Thandi));
    }
}
