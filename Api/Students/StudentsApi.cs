using Api.Auth;
using Api.Caching;
using Api.Exports;
using Api.Idempotency;
using Api.Sending;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Notifications.Queue;
using Notifications.Stores;
using Notifications.Tasks;
using Notifications.Templates;

namespace Api.Students;

public sealed record RowProblem(int Row, string Field, string Reason);

public sealed record UploadReport(int Imported, int Updated, IReadOnlyList<RowProblem> Rejected, int NotificationsQueued, string StatusUrl);

public sealed record StudentView(string Id, string RollNumber, string Name, string Email, string Phone, string? BatchId, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public static StudentView From(Student s) => new(s.Id, s.RollNumber, s.Name, s.Email, s.Phone, s.BatchId, s.CreatedAt, s.UpdatedAt);
}

/// <summary>A page of a listing; <see cref="Page"/> counts from 1.</summary>
public sealed record PagedList<T>(IReadOnlyList<T> Items, long Total, int Page, int PageSize);

public static class Paging
{
    public const int DefaultPageSize = 50;

    public static PageRequest ToRequest(int? page, int? pageSize)
    {
        var p = page ?? 1;
        var size = pageSize ?? DefaultPageSize;
        if (p < 1)
        {
            throw new InvalidFieldException("page", "must be 1 or more.");
        }
        if (size is < 1 or > PageRequest.MaxLimit)
        {
            throw new InvalidFieldException("pageSize", $"must be between 1 and {PageRequest.MaxLimit}.");
        }
        // A page past int offsets is past any list this system holds; say so rather than wrap around.
        var offset = (long)(p - 1) * size;
        if (offset > int.MaxValue)
        {
            throw new InvalidFieldException("page", $"is too large for a page size of {size}.");
        }
        return new PageRequest((int)offset, size);
    }
}

public static class StudentsApi
{
    public static IEndpointRouteBuilder MapStudentsApi(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/students").WithTags("Students").RequireAuthorization(AuthPolicies.Staff);

        // No Accepts<IFormFile>("multipart/form-data"): with it, routing answers any other content type
        // with a bare 415 before UploadAsync can say what it expects; the OpenAPI document still shows the body.
        group.MapPost("/upload", UploadAsync)
            .AddOpenApiOperationTransformer(DocumentFileBody)
            .WithSummary("Upload a CSV or XLSX student list (name, email, phone, roll number, batch); queues a welcome SMS and email per student.");
        group.MapGet("/", ListAsync).WithSummary("Students by roll number, paged (page from 1).");
        group.MapGet("/export", Export).Produces(StatusCodes.Status200OK, contentType: CsvDownload.ContentType)
            .WithSummary("Every student as CSV, in the upload's columns (formula-like cells escaped).");
        group.MapGet("/{id}", GetAsync).WithSummary("One student.");
        return routes;
    }

    /// <summary>The upload's OpenAPI request body: multipart/form-data with a required binary field "file".</summary>
    private static Task DocumentFileBody(Microsoft.OpenApi.OpenApiOperation operation, Microsoft.AspNetCore.OpenApi.OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        operation.RequestBody = new Microsoft.OpenApi.OpenApiRequestBody
        {
            Required = true,
            Content = new Dictionary<string, Microsoft.OpenApi.OpenApiMediaType>
            {
                ["multipart/form-data"] = new()
                {
                    Schema = new Microsoft.OpenApi.OpenApiSchema
                    {
                        Type = Microsoft.OpenApi.JsonSchemaType.Object,
                        Required = new HashSet<string> { "file" },
                        Properties = new Dictionary<string, Microsoft.OpenApi.IOpenApiSchema>
                        {
                            ["file"] = new Microsoft.OpenApi.OpenApiSchema { Type = Microsoft.OpenApi.JsonSchemaType.String, Format = "binary" },
                        },
                    },
                },
            },
        };
        return Task.CompletedTask;
    }

    internal static async Task<Results<Accepted<UploadReport>, ProblemHttpResult>> UploadAsync(
        HttpContext context, IOptions<UploadLimits> limits, ContactValidator contacts, IStudentStore students,
        NotificationTemplates templates, NotificationDispatcher dispatcher, ApiCache cache, RecordCache records, IdempotentResponses responses,
        CancellationToken cancellationToken)
    {
        var idempotencyKey = IdempotencyKeys.FromRequest(context, "students-upload");
        if (await responses.FindAsync<UploadReport>(idempotencyKey) is { } earlier)
        {
            return TypedResults.Accepted(earlier.StatusUrl, earlier);
        }

        var maxBytes = limits.Value.MaxBytes;
        if (context.Request.ContentLength > maxBytes + 64 * 1024)
        {
            return FileTooLarge(maxBytes);
        }
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodyLimit)
        {
            // Room for the multipart envelope around a file of the allowed size.
            bodyLimit.MaxRequestBodySize = maxBytes + 64 * 1024;
        }
        if (!context.Request.HasFormContentType)
        {
            return TypedResults.Problem("Send the file as multipart/form-data in a field named 'file'.", statusCode: StatusCodes.Status415UnsupportedMediaType);
        }
        IFormCollection form;
        try
        {
            form = await context.Request.ReadFormAsync(cancellationToken);
        }
        catch (InvalidDataException ex)
        {
            // A multipart body without a boundary, or past the form reader's limits: the client's mistake.
            return TypedResults.Problem($"The multipart body could not be read: {ex.Message}", statusCode: StatusCodes.Status400BadRequest);
        }
        catch (IOException ex) when (!cancellationToken.IsCancellationRequested)
        {
            // A body cut off before its closing boundary ("Unexpected end of Stream"): nothing was read, nothing stored.
            return TypedResults.Problem($"The multipart body ended before its closing boundary: {ex.Message}", statusCode: StatusCodes.Status400BadRequest);
        }
        var file = form.Files.GetFile("file");
        if (file is null)
        {
            return TypedResults.Problem("The form has no field named 'file'.", statusCode: StatusCodes.Status400BadRequest);
        }
        if (file.Length > maxBytes)
        {
            return FileTooLarge(maxBytes);
        }
        if (file.Length == 0)
        {
            return TypedResults.Problem("The file is empty.", statusCode: StatusCodes.Status400BadRequest);
        }

        await using var content = file.OpenReadStream();
        var (header, rows) = StudentSheet.Read(content, file.FileName, limits.Value);
        var columns = StudentColumns.Locate(header);
        var (upserts, rejected) = ValidateRows(rows, columns, contacts);

        var counts = await students.UpsertManyAsync(upserts, cancellationToken);
        // The rows are committed: the evictions run to the end even if the caller has gone.
        if (counts.Inserted + counts.Updated > 0)
        {
            await cache.InvalidateAsync(CacheKeys.StudentsList, CancellationToken.None);
        }
        if (counts.Updated > 0)
        {
            await records.StudentsChangedAsync();
        }

        // Only new students are welcomed: a list corrected and uploaded again weeks later must not greet everyone
        // again (the welcome's idempotency key only lasts a day).
        // A roll number given twice is stored as its last row (the store trims it), and welcomed once with that row.
        var lastRow = new Dictionary<string, StudentUpsert>(StringComparer.Ordinal);
        foreach (var student in upserts)
        {
            lastRow[student.RollNumber.Trim()] = student;
        }
        var notifications = new List<NotificationRequest>(counts.InsertedRollNumbers.Count * 2);
        foreach (var rollNumber in counts.InsertedRollNumbers)
        {
            notifications.AddRange(Welcome(templates, lastRow[rollNumber]));
        }
        await dispatcher.DispatchAsync(notifications, cancellationToken);

        var batches = upserts.Select(s => s.BatchId).Distinct().ToList();
        var statusUrl = batches is [{ } onlyBatch] ? $"/api/notifications?batchId={Uri.EscapeDataString(onlyBatch)}" : "/api/students";
        var report = new UploadReport(counts.Inserted, counts.Updated, rejected, notifications.Count, statusUrl);
        await responses.SaveAsync(idempotencyKey, report);
        return TypedResults.Accepted(statusUrl, report);
    }

    /// <summary>The same columns as an upload, so an exported list can be corrected and uploaded again.</summary>
    internal static IResult Export(IStudentStore students, CancellationToken cancellationToken) =>
        CsvDownload.Create("students.csv", [StudentColumns.Name, StudentColumns.Email, StudentColumns.Phone, StudentColumns.RollNumber, StudentColumns.Batch],
            students.ListAsync, student => student.Id, student => [student.Name, student.Email, student.Phone, student.RollNumber, student.BatchId], cancellationToken);

    internal static (List<StudentUpsert> Valid, List<RowProblem> Rejected) ValidateRows(
        IReadOnlyList<SheetRow> rows, Dictionary<string, int> columns, ContactValidator contacts)
    {
        var valid = new List<StudentUpsert>(rows.Count);
        var rejected = new List<RowProblem>();
        var firstRowOfRoll = new Dictionary<string, int>(StringComparer.Ordinal);
        columns.TryGetValue(StudentColumns.Batch, out var batchColumn);
        var hasBatch = columns.ContainsKey(StudentColumns.Batch);

        foreach (var row in rows)
        {
            // A cell our own export escaped ('=...) reads back as what was stored, so export and upload round-trip.
            string? Cell(string column) => columns[column] < row.Cells.Length ? SpreadsheetText.Unescape(row.Cells[columns[column]]?.Trim()) : null;
            var problems = new List<RowProblem>();
            void Reject(string field, string reason, string? value) =>
                problems.Add(new RowProblem(row.Row, field, value is null ? reason : $"{reason} Value: {SpreadsheetText.Neutralize(value)}"));

            var name = Cell(StudentColumns.Name);
            if (string.IsNullOrEmpty(name))
            {
                Reject(StudentColumns.Name, "is required.", null);
            }
            else if (name.Length > FieldLimits.Name)
            {
                Reject(StudentColumns.Name, $"is longer than {FieldLimits.Name} characters.", null);
            }

            var rawEmail = Cell(StudentColumns.Email);
            var email = ContactValidator.NormalizeEmail(rawEmail, out var emailReason);
            if (email is null)
            {
                Reject(StudentColumns.Email, emailReason!, string.IsNullOrEmpty(rawEmail) ? null : rawEmail);
            }

            var rawPhone = Cell(StudentColumns.Phone);
            var phone = contacts.NormalizePhone(rawPhone, out var phoneReason);
            if (phone is null)
            {
                Reject(StudentColumns.Phone, phoneReason!, string.IsNullOrEmpty(rawPhone) ? null : rawPhone);
            }

            var roll = Cell(StudentColumns.RollNumber);
            if (string.IsNullOrEmpty(roll))
            {
                Reject(StudentColumns.RollNumber, "is required.", null);
            }
            else if (roll.Length > FieldLimits.RollNumber)
            {
                Reject(StudentColumns.RollNumber, $"is longer than {FieldLimits.RollNumber} characters.", null);
            }
            else if (firstRowOfRoll.TryGetValue(roll, out var firstRow))
            {
                Reject(StudentColumns.RollNumber, $"repeats row {firstRow}.", roll);
            }

            // Unescaped like the other cells: an exported batch such as "-A" comes back as "'-A" and must upload as "-A".
            var batch = hasBatch && batchColumn < row.Cells.Length ? SpreadsheetText.Unescape(row.Cells[batchColumn]?.Trim()) : null;
            if (batch is { Length: > FieldLimits.Id })
            {
                Reject(StudentColumns.Batch, $"is longer than {FieldLimits.Id} characters.", null);
            }

            if (problems.Count > 0)
            {
                rejected.AddRange(problems);
                continue;
            }
            firstRowOfRoll[roll!] = row.Row;
            valid.Add(new StudentUpsert(roll!, name!, email!, phone!, string.IsNullOrEmpty(batch) ? null : batch));
        }
        return (valid, rejected);
    }

    private static NotificationRequest[] Welcome(NotificationTemplates templates, StudentUpsert student)
    {
        var model = new NotificationModel { StudentName = student.Name, Username = student.RollNumber };
        var sms = templates.Render(TemplateNames.Welcome, NotificationType.Sms, model);
        var email = templates.Render(TemplateNames.Welcome, NotificationType.Email, model);
        var correlation = new Correlation { BatchId = student.BatchId };
        // One welcome per student and channel: uploading the same list again within the queue's
        // idempotency window does not welcome anyone twice.
        return
        [
            NotificationRequest.Sms(student.Phone, sms.TextBody, NotificationPriority.Bulk) with
            {
                IdempotencyKey = $"welcome:{student.RollNumber}:sms", Correlation = correlation,
            },
            NotificationRequest.Email(student.Email, email.Subject!, email.TextBody, email.HtmlBody, NotificationPriority.Bulk) with
            {
                IdempotencyKey = $"welcome:{student.RollNumber}:email", Correlation = correlation,
            },
        ];
    }

    private static ProblemHttpResult FileTooLarge(long maxBytes) =>
        TypedResults.Problem($"The file is larger than {maxBytes / (1024 * 1024)} MB.", statusCode: StatusCodes.Status413PayloadTooLarge);

    internal static async Task<Ok<PagedList<StudentView>>> ListAsync(int? page, int? pageSize, IStudentStore students,
        ApiCache cache, IOptions<ApiCacheOptions> cacheOptions, CancellationToken cancellationToken)
    {
        var request = Paging.ToRequest(page, pageSize);
        async Task<PagedList<StudentView>> Load(CancellationToken ct)
        {
            var loaded = await students.ListAsync(request, ct);
            return new PagedList<StudentView>([.. loaded.Items.Select(StudentView.From)], loaded.Total, page ?? 1, request.Limit);
        }
        // Only the default first page is cached (see CacheKeys).
        var isFirstPage = request.Offset == 0 && request.Limit == Paging.DefaultPageSize;
        var list = isFirstPage
            ? await cache.GetOrLoadAsync(CacheKeys.StudentsList, cacheOptions.Value.StudentsListTtl, Load, cancellationToken)
            : await Load(cancellationToken);
        return TypedResults.Ok(list);
    }

    internal static async Task<Ok<StudentView>> GetAsync(string id, IStudentStore students, CancellationToken cancellationToken) =>
        TypedResults.Ok(StudentView.From(await students.GetAsync(id, cancellationToken)));
}
