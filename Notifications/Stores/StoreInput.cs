using Notifications.Tasks;
namespace Notifications.Stores;

/// <summary>
/// Checks and normalizes what callers hand a store (trimmed, within <see cref="FieldLimits"/>), in one place
/// so SQLite and MongoDB accept and refuse exactly the same input, before either writes anything.
/// </summary>
internal static class StoreInput
{
    public static IReadOnlyList<StudentUpsert> Students(IReadOnlyCollection<StudentUpsert> students)
    {
        ArgumentNullException.ThrowIfNull(students);
        // Last row wins for a repeated roll number, at the position of its first row: an upload file's later
        // correction replaces the earlier row rather than failing the whole upload.
        var byRollNumber = new Dictionary<string, int>(students.Count, StringComparer.Ordinal);
        var rows = new List<StudentUpsert>(students.Count);
        var index = 0;
        foreach (var student in students)
        {
            var row = $"students[{index++}]";
            ArgumentNullException.ThrowIfNull(student, row);
            var normalized = new StudentUpsert(
                FieldValidation.Required(student.RollNumber, $"{row}.rollNumber", FieldLimits.RollNumber),
                FieldValidation.Required(student.Name, $"{row}.name", FieldLimits.Name),
                FieldValidation.Email(student.Email, $"{row}.email"),
                FieldValidation.Phone(student.Phone, $"{row}.phone"),
                FieldValidation.Optional(student.BatchId, $"{row}.batchId", FieldLimits.Id));
            if (byRollNumber.TryGetValue(normalized.RollNumber, out var earlier))
            {
                rows[earlier] = normalized;
            }
            else
            {
                byRollNumber.Add(normalized.RollNumber, rows.Count);
                rows.Add(normalized);
            }
        }
        return rows;
    }

    public static NewForm Form(NewForm form)
    {
        ArgumentNullException.ThrowIfNull(form);
        var fields = form.Fields ?? [];
        if (fields.Count > FieldLimits.FormFieldCount)
        {
            throw new InvalidFieldException("fields", $"at most {FieldLimits.FormFieldCount} fields are allowed.");
        }
        var names = new HashSet<string>(StringComparer.Ordinal);
        var checkedFields = new List<FormField>(fields.Count);
        foreach (var field in fields)
        {
            var name = FieldValidation.Required(field?.Name, "fields.name", FieldLimits.FormFieldName);
            if (!names.Add(name))
            {
                throw new InvalidFieldException("fields.name", $"'{name}' appears more than once.");
            }
            checkedFields.Add(new FormField(
                name,
                FieldValidation.Optional(field!.Label, "fields.label", FieldLimits.FormTitle) ?? name,
                FieldValidation.Optional(field.Type, "fields.type", FieldLimits.Status) ?? FormField.TextType,
                field.Required));
        }
        return new NewForm(
            FieldValidation.Required(form.Title, "title", FieldLimits.FormTitle),
            form.IsActive,
            checkedFields,
            FieldValidation.Optional(form.Id, "id", FieldLimits.Id) ?? RecordIds.New());
    }

    public static NewSubmission Submission(NewSubmission submission, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(submission);
        var answers = submission.Answers ?? new Dictionary<string, string>();
        if (answers.Count > FieldLimits.AnswerCount)
        {
            throw new InvalidFieldException("answers", $"at most {FieldLimits.AnswerCount} answers are allowed.");
        }
        var checkedAnswers = new Dictionary<string, string>(answers.Count, StringComparer.Ordinal);
        foreach (var (key, value) in answers)
        {
            var checkedKey = FieldValidation.Required(key, "answers.key", FieldLimits.AnswerKey);
            checkedAnswers[checkedKey] = FieldValidation.MaxLength(value ?? "", $"answers.{checkedKey}", FieldLimits.AnswerValue);
        }
        return new NewSubmission(
            FieldValidation.Required(submission.FormId, "formId", FieldLimits.Id),
            FieldValidation.Required(submission.StudentId, "studentId", FieldLimits.Id),
            FieldValidation.Required(submission.RollNumber, "rollNumber", FieldLimits.RollNumber),
            checkedAnswers,
            FieldValidation.Optional(submission.Status, "status", FieldLimits.Status) ?? NewSubmission.SubmittedStatus,
            FieldValidation.ToStoredPrecision(submission.SubmittedAt ?? now),
            FieldValidation.Optional(submission.Id, "id", FieldLimits.Id) ?? RecordIds.New());
    }

    /// <summary>The error when submission ids a caller gave are taken (ids the store makes never collide).</summary>
    public static DuplicateKeyException SubmissionIdsTaken(IEnumerable<NewSubmission> submissions, Exception? innerException = null) =>
        new("form submission", "id", string.Join(", ", submissions.Select(s => s.Id).OfType<string>()), innerException);

    public static (string Name, IReadOnlyList<string> StudentIds) Batch(NewBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return (FieldValidation.Required(batch.Name, "name", FieldLimits.BatchName), FieldValidation.Ids(batch.StudentIds, "studentIds"));
    }

    public static DeliveryEvent Event(DeliveryEvent deliveryEvent)
    {
        ArgumentNullException.ThrowIfNull(deliveryEvent);
        if (!Enum.IsDefined(deliveryEvent.Status))
        {
            throw new InvalidFieldException("status", $"'{deliveryEvent.Status}' is not a delivery status.");
        }
        if (!Enum.IsDefined(deliveryEvent.Channel))
        {
            throw new InvalidFieldException("channel", $"'{deliveryEvent.Channel}' is not a channel.");
        }
        if (deliveryEvent.Attempt < 0)
        {
            throw new InvalidFieldException("attempt", "must not be negative.");
        }
        Usage(deliveryEvent.SmsParts, deliveryEvent.SmsEncoding, deliveryEvent.CreditCost);
        return deliveryEvent with
        {
            TaskId = FieldValidation.Required(deliveryEvent.TaskId, "taskId", FieldLimits.TaskId),
            At = FieldValidation.ToStoredPrecision(deliveryEvent.At),
            Recipient = FieldValidation.Required(deliveryEvent.Recipient, "recipient", FieldLimits.Recipient),
            Provider = FieldValidation.Optional(deliveryEvent.Provider, "provider", FieldLimits.Provider),
            ProviderMessageId = FieldValidation.Optional(deliveryEvent.ProviderMessageId, "providerMessageId", FieldLimits.ProviderMessageId),
            Error = FieldValidation.Truncate(deliveryEvent.Error, FieldLimits.LastError),
            BatchId = FieldValidation.Optional(deliveryEvent.BatchId, "batchId", FieldLimits.Id),
            SubmissionId = FieldValidation.Optional(deliveryEvent.SubmissionId, "submissionId", FieldLimits.Id),
            StudentId = FieldValidation.Optional(deliveryEvent.StudentId, "studentId", FieldLimits.Id),
            ReceiptId = FieldValidation.Optional(deliveryEvent.ReceiptId, "receiptId", FieldLimits.ReceiptId),
        };
    }

    public static ProviderReceipt Receipt(ProviderReceipt receipt)
    {
        ArgumentNullException.ThrowIfNull(receipt);
        if (!Enum.IsDefined(receipt.Status))
        {
            throw new InvalidFieldException("status", $"'{receipt.Status}' is not a delivery status.");
        }
        Usage(receipt.SmsParts, receipt.SmsEncoding, receipt.CreditCost);
        var checkedReceipt = receipt with
        {
            Provider = FieldValidation.Required(receipt.Provider, "provider", FieldLimits.Provider),
            ReceiptId = FieldValidation.Required(receipt.ReceiptId, "receiptId", FieldLimits.ReceiptId),
            ProviderMessageId = FieldValidation.Optional(receipt.ProviderMessageId, "providerMessageId", FieldLimits.ProviderMessageId),
            TaskId = FieldValidation.Optional(receipt.TaskId, "taskId", FieldLimits.TaskId),
            Reason = FieldValidation.Truncate(receipt.Reason, FieldLimits.LastError),
            At = FieldValidation.ToStoredPrecision(receipt.At),
        };
        return checkedReceipt is { TaskId: null, ProviderMessageId: null }
            ? throw new InvalidFieldException("providerMessageId", "a receipt needs the provider's message id or the task id.")
            : checkedReceipt;
    }

    /// <summary>A checked receipt (<see cref="Receipt"/>) as an event of the task it was matched to.</summary>
    public static DeliveryEvent ReceiptEvent(ProviderReceipt receipt, DeliveryRecord task) =>
        Event(new DeliveryEvent(task.TaskId, receipt.Status, receipt.At, task.Channel, task.Recipient)
        {
            Attempt = task.Attempts,
            Provider = receipt.Provider,
            ProviderMessageId = receipt.ProviderMessageId,
            Error = receipt.Reason,
            SmsParts = receipt.SmsParts,
            SmsEncoding = receipt.SmsEncoding,
            CreditCost = receipt.CreditCost,
            ReceiptId = receipt.ReceiptId,
        });

    public static Suppression Suppression(Suppression suppression)
    {
        ArgumentNullException.ThrowIfNull(suppression);
        var channel = Channel(suppression.Channel);
        return suppression with
        {
            Address = SuppressionAddress(channel, suppression.Address),
            Reason = FieldValidation.Required(suppression.Reason, "reason", FieldLimits.SuppressionReason),
            Source = FieldValidation.Optional(suppression.Source, "source", FieldLimits.Actor),
            TaskId = FieldValidation.Optional(suppression.TaskId, "taskId", FieldLimits.TaskId),
            At = FieldValidation.ToStoredPrecision(suppression.At),
        };
    }

    public static NotificationType Channel(NotificationType channel) =>
        Enum.IsDefined(channel) ? channel : throw new InvalidFieldException("channel", $"'{channel}' is not a channel.");

    /// <summary>The address as the suppression list keys it.</summary>
    public static string SuppressionAddress(NotificationType channel, string? address) =>
        FieldValidation.Required(address is null ? null : Stores.SuppressionAddress.Normalize(channel, address), "address", FieldLimits.Recipient);

    /// <summary>The audit trail's filter: an address without a channel is read as the channel it looks like.</summary>
    public static (NotificationType? Channel, string? Address) AuditFilter(NotificationType? channel, string? address)
    {
        var checkedChannel = channel is { } c ? Channel(c) : (NotificationType?)null;
        return (checkedChannel, address is null ? null : SuppressionAddress(checkedChannel ?? Stores.SuppressionAddress.ChannelOf(address), address));
    }

    public static string? Search(string? search) =>
        string.IsNullOrWhiteSpace(search) ? null : FieldValidation.MaxLength(search.Trim().ToLowerInvariant(), "search", FieldLimits.Search);

    private static void Usage(int? smsParts, SmsEncoding? encoding, double? creditCost)
    {
        if (encoding is { } e && !Enum.IsDefined(e))
        {
            throw new InvalidFieldException("smsEncoding", $"'{e}' is not an SMS encoding.");
        }
        if (smsParts is < 0)
        {
            throw new InvalidFieldException("smsParts", "must not be negative.");
        }
        if (creditCost is { } cost && (!double.IsFinite(cost) || cost < 0))
        {
            throw new InvalidFieldException("creditCost", "must be a number, not negative.");
        }
    }

    public static DeliveryQuery Query(DeliveryQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (query.Status is { } status && !Enum.IsDefined(status))
        {
            throw new InvalidFieldException("status", $"'{status}' is not a delivery status.");
        }
        if (query is { From: { } from, To: { } to } && to < from)
        {
            throw new InvalidFieldException("to", "must not be before from.");
        }
        return query with
        {
            Recipient = FieldValidation.Optional(query.Recipient, "recipient", FieldLimits.Recipient),
            BatchId = FieldValidation.Optional(query.BatchId, "batchId", FieldLimits.Id),
            StudentId = FieldValidation.Optional(query.StudentId, "studentId", FieldLimits.Id),
            From = query.From is { } f ? FieldValidation.ToStoredPrecision(f) : null,
            To = query.To is { } t ? FieldValidation.ToStoredPrecision(t) : null,
        };
    }

    /// <summary>The longest SMS usage range one call reads.</summary>
    public const int MaxUsageDays = 366;

    public static (DateTimeOffset From, DateTimeOffset To) UsageRange(DateTimeOffset from, DateTimeOffset to)
    {
        if (to < from)
        {
            throw new InvalidFieldException("to", "must not be before from.");
        }
        if (to - from > TimeSpan.FromDays(MaxUsageDays))
        {
            throw new InvalidFieldException("to", $"the range may span at most {MaxUsageDays} days.");
        }
        return (FieldValidation.ToStoredPrecision(from), FieldValidation.ToStoredPrecision(to));
    }

    public static string Id(string? id, string field = "id") => FieldValidation.Required(id, field, FieldLimits.Id);

    /// <summary>Every status with its count, zero when none, so callers and both stores agree on the shape.</summary>
    public static IReadOnlyDictionary<DeliveryStatus, long> AllStatuses(IEnumerable<KeyValuePair<DeliveryStatus, long>> counts)
    {
        var all = Enum.GetValues<DeliveryStatus>().ToDictionary(s => s, _ => 0L);
        foreach (var (status, count) in counts)
        {
            all[status] = count;
        }
        return all;
    }
}
