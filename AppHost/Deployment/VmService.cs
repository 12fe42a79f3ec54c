using System.Globalization;

namespace AppHost.Deployment;

/// <summary>A project of the app model as it runs on the VM: a systemd unit with its environment.</summary>
public sealed record VmService(
    string Name,
    string AssemblyName,
    int Port,
    int MemoryMaxMegabytes,
    bool IsExternal,
    long? RequestBodyLimitBytes,
    IReadOnlyList<KeyValuePair<string, string>> Environment)
{
    public string UnitName => UbuntuVmLayout.UnitName(Name);

    public string InstallDirectory => $"{UbuntuVmLayout.InstallRoot}/{Name}";

    public string EnvironmentFile => $"{Name}.env";

    public int GcHeapHardLimitMegabytes => MemoryMaxMegabytes * VmMemoryBudget.GcHeapPercentOfMemoryMax / 100;

    public string GcHeapHardLimitHex => "0x" + ((long)GcHeapHardLimitMegabytes * 1024 * 1024).ToString("X", CultureInfo.InvariantCulture);

    public string LoopbackUrl => $"http://127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>
    /// Reads every project of the app model with the environment the AppHost gives it in publish mode
    /// (manifest expressions such as <c>{redis.connectionString}</c>) and resolves those to the VM's values.
    /// </summary>
    public static async Task<IReadOnlyList<VmService>> ReadAllAsync(
        DistributedApplicationModel model, DistributedApplicationExecutionContext executionContext, CancellationToken cancellationToken)
    {
        var projects = model.Resources.OfType<ProjectResource>().ToList();
        var vm = projects.ToDictionary(p => p.Name, p => p.Annotations.OfType<UbuntuVmServiceAnnotation>().LastOrDefault()
            ?? throw new InvalidOperationException($"Project '{p.Name}' has no WithUbuntuVmService(port, memoryMax): the VM deployment needs both."));

        var duplicatePort = vm.GroupBy(kv => kv.Value.Port).FirstOrDefault(g => g.Count() > 1);
        if (duplicatePort is not null)
        {
            throw new InvalidOperationException($"Projects {string.Join(", ", duplicatePort.Select(kv => kv.Key))} share port {duplicatePort.Key}.");
        }

        var services = new List<VmService>();
        foreach (var project in projects)
        {
            // As the manifest publisher does: run the environment callbacks in publish mode and keep each
            // value's manifest expression.
            var values = new Dictionary<string, object>(StringComparer.Ordinal);
            var context = new EnvironmentCallbackContext(executionContext, project, values, cancellationToken);
            foreach (var callback in project.Annotations.OfType<EnvironmentCallbackAnnotation>())
            {
                await callback.Callback(context).ConfigureAwait(false);
            }
            var raw = values.ToDictionary(kv => kv.Key, kv => kv.Value switch
            {
                string text => text,
                IManifestExpressionProvider expression => expression.ValueExpression,
                var other => throw new InvalidOperationException($"Environment variable {kv.Key} of '{project.Name}' is a {other.GetType().Name}, which has no manifest expression."),
            }, StringComparer.Ordinal);

            var annotation = vm[project.Name];
            var environment = new SortedDictionary<string, string>(StringComparer.Ordinal);
            foreach (var (key, value) in raw)
            {
                if (Resolve(project.Name, key, value, vm) is { } resolved)
                {
                    environment[key] = resolved;
                }
            }
            // Loopback only, on a fixed port: nginx is the only way in. This replaces HTTP_PORTS.
            environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{annotation.Port.ToString(CultureInfo.InvariantCulture)}";

            long? bodyLimit = environment.TryGetValue(UbuntuVmResourceExtensions.RequestBodyLimitVariable, out var limit)
                ? long.Parse(limit, CultureInfo.InvariantCulture)
                : null;
            var isExternal = project.Annotations.OfType<EndpointAnnotation>().Any(e => e.IsExternal);
            var assembly = Path.GetFileNameWithoutExtension(project.GetProjectMetadata().ProjectPath);

            services.Add(new VmService(project.Name, assembly, annotation.Port, annotation.MemoryMaxMegabytes, isExternal, bodyLimit, [.. environment]));
        }
        return services;
    }

    private static string? Resolve(string resource, string key, string value, IReadOnlyDictionary<string, UbuntuVmServiceAnnotation> vm)
    {
        if (key == "HTTP_PORTS")
        {
            return null;
        }
        if (!value.Contains('{', StringComparison.Ordinal))
        {
            return value;
        }

        // Manifest expressions: {resource.connectionString}, {resource.bindings.<endpoint>.<property>}.
        var match = System.Text.RegularExpressions.Regex.Match(value, @"^\{(?<target>[^.{}]+)\.(?<path>[^{}]+)\}$");
        if (!match.Success)
        {
            throw Unsupported(resource, key, value);
        }
        var target = match.Groups["target"].Value;
        var path = match.Groups["path"].Value;
        if (path == "connectionString")
        {
            return UbuntuVmLayout.ConnectionStrings.TryGetValue(target, out var cs)
                ? cs
                : throw new InvalidOperationException($"'{resource}' references connection string '{target}', which the VM deployment does not know: add it to {nameof(UbuntuVmLayout)}.{nameof(UbuntuVmLayout.ConnectionStrings)}.");
        }
        if (path == "value" && UbuntuVmLayout.GeneratedSecrets.Contains(key))
        {
            return null; // a parameter install.sh generates into the shared env file (JWT_SECRET_KEY)
        }
        if (path.StartsWith("bindings.https.", StringComparison.Ordinal))
        {
            return null; // services talk plain HTTP on loopback; nginx terminates TLS
        }
        if (vm.TryGetValue(target, out var other))
        {
            var port = other.Port.ToString(CultureInfo.InvariantCulture);
            switch (path)
            {
                case "bindings.http.url":
                    return $"http://127.0.0.1:{port}";
                case "bindings.http.targetPort" or "bindings.http.port":
                    return port;
                case "bindings.http.host":
                    return "127.0.0.1";
            }
        }
        throw Unsupported(resource, key, value);
    }

    private static InvalidOperationException Unsupported(string resource, string key, string value) =>
        new($"'{resource}' has {key}={value}, which the VM deployment cannot resolve yet: teach {nameof(VmService)}.{nameof(Resolve)} what it is on the VM.");
}
