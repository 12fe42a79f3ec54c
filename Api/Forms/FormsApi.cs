using Api.Auth;
using Api.Caching;
using Api.Exports;
using Api.Idempotency;
using Api.Students;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Notifications.Queue;
using Notifications.Stores;
using Notifications.Tasks;
using Notifications.Templates;

namespace Api.Forms;

public sealed record FormFieldInput(string Name, string? Label, string? Type, bool Required);

public sealed record CreateFormRequest(string Title, bool IsActive, IReadOnlyList<FormFieldInput>? Fields);

public sealed record SubmitFormRequest(IReadOnlyDictionary<string, string>? Answers);

/// <param name="NotificationIds">The confirmation's task ids; empty for a retry whose first answer was not kept (its status URL then lists the student's SMS).</param>
public sealed record SubmissionAccepted(string SubmissionId, IReadOnlyList<string> NotificationIds, string StatusUrl);

public static class FormsApi
{
    public static IEndpointRouteBuilder MapFormsApi(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/forms").WithTags("Forms").RequireAuthorization();

        group.MapGet("/active", ListActiveAsync).WithSummary("Active forms, by title.");
        group.MapGet("/{id}", GetAsync).WithSummary("One form.");
        group.MapPost("/", CreateAsync).RequireAuthorization(AuthPolicies.Staff).WithSummary("Create a form.");

        group.MapPost("/{formId}/submissions", SubmitAsync).RequireAuthorization(AuthPolicies.Student)
            .WithSummary("Submit a form as the signed-in student; queues a confirmation SMS and email.");
        group.MapGet("/{formId}/submissions", ListSubmissionsAsync).RequireAuthorization(AuthPolicies.Staff)
            .WithSummary("A form's submissions, newest first, paged (page from 1).");
        group.MapGet("/{formId}/submissions/export", ExportSubmissionsAsync).RequireAuthorization(AuthPolicies.Staff)
            .Produces(StatusCodes.Status200OK, contentType: CsvDownload.ContentType)
            .WithSummary("A form's submissions as CSV, newest first, one column per field (formula-like answers escaped).");
        group.MapGet("/{formId}/analytics", GetAnalyticsAsync).RequireAuthorization(AuthPolicies.Staff)
            .WithSummary("Submissions per day and per status.");
        return routes;
    }

    internal static async Task<Ok<IReadOnlyList<Form>>> ListActiveAsync(IFormStore forms, ApiCache cache, IOptions<ApiCacheOptions> cacheOptions,
        CancellationToken cancellationToken) =>
        TypedResults.Ok(await cache.GetOrLoadAsync(CacheKeys.ActiveForms, cacheOptions.Value.ActiveFormsTtl, forms.ListActiveAsync, cancellationToken));

    internal static async Task<Ok<Form>> GetAsync(string id, IFormStore forms, CancellationToken cancellationToken) =>
        TypedResults.Ok(await forms.GetAsync(id, cancellationToken));

    internal static async Task<Results<Created<Form>, ValidationProblem>> CreateAsync(CreateFormRequest request, IFormStore forms, ApiCache cache,
        CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(request.Title))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["title"] = ["is required."] });
        }
        var inputs = request.Fields ?? [];
        for (var i = 0; i < inputs.Count; i++)
        {
            if (inputs[i] is null)
            {
                return TypedResults.ValidationProblem(new Dictionary<string, string[]> { [$"fields[{i}]"] = ["must be a field, not null."] });
            }
        }
        var fields = inputs.Select(f => new FormField(f.Name, f.Label ?? f.Name, f.Type ?? FormField.TextType, f.Required)).ToList();
        var created = await forms.CreateAsync(new NewForm(request.Title, request.IsActive, fields), cancellationToken);
        await cache.InvalidateAsync(CacheKeys.ActiveForms, cancellationToken);
        return TypedResults.Created($"/api/forms/{created.Id}", created);
    }

    internal static async Task<Results<Accepted<SubmissionAccepted>, ValidationProblem, ProblemHttpResult>> SubmitAsync(
        string formId, SubmitFormRequest request, HttpContext context, RecordCache records, SubmissionIntake intake,
        IdempotentResponses responses, CancellationToken cancellationToken)
    {
        var idempotencyKey = IdempotencyKeys.FromRequest(context, "form-submission:" + formId);
        var answers = request.Answers ?? new Dictionary<string, string>();
        var fingerprint = IdempotentResponses.Fingerprint(answers.OrderBy(a => a.Key, StringComparer.Ordinal).SelectMany(a => new[] { a.Key, a.Value }));
        if (await responses.FindAsync<SubmissionAccepted>(idempotencyKey, fingerprint) is { } earlier)
        {
            return TypedResults.Accepted(earlier.StatusUrl, earlier);
        }

        var studentId = context.User.FindFirst(AuthPolicies.SubjectClaim)!.Value;
        var form = await records.GetFormAsync(formId, cancellationToken);
        var student = await records.GetStudentAsync(studentId, cancellationToken);
        if (!form.IsActive)
        {
            return TypedResults.Problem($"The form '{form.Title}' is closed.", statusCode: StatusCodes.Status409Conflict);
        }
        if (CheckAnswers(form, answers) is { Count: > 0 } errors)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var receipt = await intake.SubmitAsync(new SubmissionWork(form, student, answers, idempotencyKey), cancellationToken);
        var statusUrl = receipt.NotificationIds is [var first, ..]
            ? $"/api/notifications/{first}"
            : $"/api/notifications?recipient={Uri.EscapeDataString(student.Phone)}";
        var accepted = new SubmissionAccepted(receipt.SubmissionId, receipt.NotificationIds, statusUrl);
        await responses.SaveAsync(idempotencyKey, fingerprint, accepted);
        return TypedResults.Accepted(statusUrl, accepted);
    }

    private static Dictionary<string, string[]> CheckAnswers(Form form, IReadOnlyDictionary<string, string> answers)
    {
        var errors = new Dictionary<string, string[]>();
        var known = form.Fields.Select(f => f.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var field in form.Fields.Where(f => f.Required && (!answers.TryGetValue(f.Name, out var value) || string.IsNullOrWhiteSpace(value))))
        {
            errors["answers." + field.Name] = ["is required."];
        }
        foreach (var unknown in answers.Keys.Where(k => !known.Contains(k)))
        {
            errors["answers." + unknown] = ["is not a field of this form."];
        }
        return errors;
    }

    internal static async Task<Ok<PagedList<FormSubmission>>> ListSubmissionsAsync(string formId, int? page, int? pageSize, IFormStore forms,
        IFormSubmissionStore submissions, CancellationToken cancellationToken)
    {
        var request = Paging.ToRequest(page, pageSize);
        await forms.GetAsync(formId, cancellationToken);
        var loaded = await submissions.ListByFormAsync(formId, request, cancellationToken);
        return TypedResults.Ok(new PagedList<FormSubmission>(loaded.Items, loaded.Total, page ?? 1, request.Limit));
    }

    internal static async Task<IResult> ExportSubmissionsAsync(string formId, IFormStore forms, IFormSubmissionStore submissions,
        CancellationToken cancellationToken)
    {
        // Before the first byte: an unknown form is a 404, not an empty file.
        var form = await forms.GetAsync(formId, cancellationToken);
        var fields = form.Fields.Select(f => f.Name).ToArray();
        return CsvDownload.Create($"submissions-{form.Id}.csv", ["submitted at", "roll number", "student id", "status", .. fields],
            (page, ct) => submissions.ListByFormAsync(form.Id, page, ct), submission => submission.Id,
            submission =>
            [
                submission.SubmittedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture),
                submission.RollNumber, submission.StudentId, submission.Status,
                .. fields.Select(f => submission.Answers.GetValueOrDefault(f)),
            ],
            cancellationToken);
    }

    internal static async Task<Ok<FormAnalytics>> GetAnalyticsAsync(string formId, IFormSubmissionStore submissions, ApiCache cache,
        IOptions<ApiCacheOptions> cacheOptions, CancellationToken cancellationToken) =>
        TypedResults.Ok(await cache.GetOrLoadAsync(CacheKeys.FormAnalytics(formId), cacheOptions.Value.FormAnalyticsTtl,
            ct => submissions.GetAnalyticsAsync(formId, ct), cancellationToken));
}
