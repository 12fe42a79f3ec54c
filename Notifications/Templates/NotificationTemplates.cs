using System.Collections.Frozen;
using System.Globalization;
using System.Reflection;
using System.Text.Encodings.Web;
using Fluid;
using Notifications.Tasks;

namespace Notifications.Templates;

public static class TemplateNames
{
    /// <summary>After staff upload a student list: how to sign in.</summary>
    public const string Welcome = "welcome";

    /// <summary>After a student submits a form.</summary>
    public const string SubmissionConfirmation = "submission-confirmation";

    /// <summary>When staff add a student to a batch or change the batch.</summary>
    public const string BatchNotice = "batch-notice";

    public static readonly IReadOnlyList<string> All = [Welcome, SubmissionConfirmation, BatchNotice];
}

/// <summary>What the templates may show. Every value is plain text; the HTML part encodes it.</summary>
public sealed record NotificationModel
{
    public required string StudentName { get; init; }
    public string? Username { get; init; }
    public string? LoginUrl { get; init; }
    public string? FormTitle { get; init; }
    public string? FormUrl { get; init; }
    public DateTimeOffset? SubmittedAt { get; init; }
    public string? BatchName { get; init; }
    public string? CourseName { get; init; }
    public string? Message { get; init; }
    public string InstituteName { get; init; } = "AI-VERSANT";

    internal IEnumerable<KeyValuePair<string, string>> ToTemplateValues() =>
    [
        new("student_name", StudentName),
        new("username", Username ?? ""),
        new("login_url", LoginUrl ?? ""),
        new("form_title", FormTitle ?? ""),
        new("form_url", FormUrl ?? ""),
        new("submitted_at", SubmittedAt?.ToString("d MMM yyyy, HH:mm 'UTC'", CultureInfo.InvariantCulture) ?? ""),
        new("batch_name", BatchName ?? ""),
        new("course_name", CourseName ?? ""),
        new("message", Message ?? ""),
        new("institute_name", InstituteName),
    ];
}

/// <param name="Subject">Null for SMS.</param>
/// <param name="HtmlBody">Null for SMS.</param>
public sealed record RenderedNotification(string? Subject, string TextBody, string? HtmlBody);

/// <summary>
/// Renders the Liquid templates embedded from <c>Notifications/Templates/</c>: per template name an
/// <c>.sms</c>, an <c>.email-subject</c>, an <c>.email-text</c> and an <c>.email-html</c> part;
/// the HTML part is wrapped in <c>_layout.email-html</c>. Values are HTML-encoded only in HTML.
/// </summary>
public sealed class NotificationTemplates
{
    private const string ResourcePrefix = "Templates.";
    private const string Extension = ".liquid";
    private const string Layout = "_layout";

    private static readonly TemplateOptions Options = new() { StrictVariables = true };

    private readonly FrozenDictionary<string, IFluidTemplate> _templates;

    public NotificationTemplates()
    {
        var parser = new FluidParser();
        var assembly = typeof(NotificationTemplates).Assembly;
        var templates = new Dictionary<string, IFluidTemplate>(StringComparer.Ordinal);
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal) && n.EndsWith(Extension, StringComparison.Ordinal)))
        {
            var key = resource[ResourcePrefix.Length..^Extension.Length];
            templates[key] = parser.Parse(ReadResource(assembly, resource));
        }

        _templates = templates.ToFrozenDictionary(StringComparer.Ordinal);
    }

    public RenderedNotification Render(string templateName, NotificationType channel, NotificationModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (channel == NotificationType.Sms)
        {
            return new RenderedNotification(null, Render(templateName, "sms", model, NullEncoder.Default).Trim(), null);
        }

        var subject = Render(templateName, "email-subject", model, NullEncoder.Default).Trim();
        var text = Render(templateName, "email-text", model, NullEncoder.Default).Trim() + "\n";
        var body = Render(templateName, "email-html", model, HtmlEncoder.Default);
        var context = NewContext(model);
        context.SetValue("subject", subject);
        context.SetValue("content", body);
        var html = Get(Layout, "email-html").Render(context, HtmlEncoder.Default);
        return new RenderedNotification(subject, text, html);
    }

    private string Render(string templateName, string part, NotificationModel model, TextEncoder encoder) =>
        Get(templateName, part).Render(NewContext(model), encoder);

    private IFluidTemplate Get(string templateName, string part) =>
        _templates.TryGetValue($"{templateName}.{part}", out var template)
            ? template
            : throw new ArgumentException($"No template '{templateName}' with a '{part}' part.", nameof(templateName));

    private static TemplateContext NewContext(NotificationModel model)
    {
        var context = new TemplateContext(Options);
        foreach (var (name, value) in model.ToTemplateValues())
        {
            context.SetValue(name, value);
        }

        return context;
    }

    private static string ReadResource(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
