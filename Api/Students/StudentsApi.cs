using Api.Auth;
using Api.Caching;
using Api.Exports;
using Api.Idempotency;
using System.Security.Cryptography;
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
        HttpContext context, IOptions<UploadLimits> limits, StudentImport import, IdempotentResponses responses, CancellationToken cancellationToken)
    {
        var idempotencyKey = IdempotencyKeys.FromRequest(context, "students-upload");

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

        var fingerprint = IdempotentResponses.Fingerprint([Convert.ToHexStringLower(await SHA256.HashDataAsync(file.OpenReadStream(), cancellationToken))]);
        if (await responses.FindAsync<UploadReport>(idempotencyKey, fingerprint) is { } earlier)
        {
            return TypedResults.Accepted(earlier.StatusUrl, earlier);
        }

        var totals = await import.RunAsync(file.OpenReadStream, file.FileName, cancellationToken);
        var statusUrl = totals.Batches is { Count: 1 } && totals.Batches.Single() is { } onlyBatch
            ? $"/api/notifications?batchId={Uri.EscapeDataString(onlyBatch)}"
            : "/api/students";
        var report = new UploadReport(totals.Imported, totals.Updated, totals.Rejected, totals.NotificationsQueued, statusUrl);
        await responses.SaveAsync(idempotencyKey, fingerprint, report);
        return TypedResults.Accepted(statusUrl, report);
    }

    /// <summary>The same columns as an upload, so an exported list can be corrected and uploaded again.</summary>
    internal static IResult Export(IStudentStore students, CancellationToken cancellationToken) =>
        CsvDownload.Create("students.csv", [StudentColumns.Name, StudentColumns.Email, StudentColumns.Phone, StudentColumns.RollNumber, StudentColumns.Batch],
            students.ListAsync, student => student.Id, student => [student.Name, student.Email, student.Phone, student.RollNumber, student.BatchId], cancellationToken);

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
