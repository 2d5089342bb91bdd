using System.Collections.Concurrent;
using System.Globalization;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;

namespace KafkaConsumerProxy.Decoding;

/// <summary>
/// The Protobuf schemas of a registry as Google.Protobuf descriptors: a schema is fetched with <c>?format=serialized</c>
/// (its FileDescriptorProto in base64), its references the same way by their ids, and the well-known imports
/// (<c>google/protobuf/*.proto</c>, which serializers do not register) from Google.Protobuf itself; then
/// <see cref="FileDescriptor.BuildFromByteStrings(IEnumerable{ByteString})"/> links them, dependencies first. Kept per
/// schema id, at most <see cref="Configuration.SchemaRegistrySettings.MaxCachedSchemas"/>.
/// </summary>
internal sealed class ProtobufSchemas(SchemaSource source)
{
    private static readonly Dictionary<string, FileDescriptor> WellKnown = new FileDescriptor[]
    {
        AnyReflection.Descriptor, ApiReflection.Descriptor, DurationReflection.Descriptor, EmptyReflection.Descriptor,
        FieldMaskReflection.Descriptor, SourceContextReflection.Descriptor, StructReflection.Descriptor,
        TimestampReflection.Descriptor, TypeReflection.Descriptor, WrappersReflection.Descriptor, DescriptorReflection.Descriptor,
    }.ToDictionary(f => f.Name, StringComparer.Ordinal);

    private readonly ConcurrentDictionary<int, FileDescriptor> _files = new();

    /// <summary>The file of schema <paramref name="id"/>, linked with its dependencies.</summary>
    public async Task<FileDescriptor> FileAsync(int id)
    {
        if (_files.TryGetValue(id, out var file))
            return file;

        var ordered = new List<(string Name, ByteString Data)>();
        var main = await CollectAsync(id, id, ordered, new HashSet<int>(), 0).ConfigureAwait(false);
        IReadOnlyList<FileDescriptor> built;
        try
        {
            built = FileDescriptor.BuildFromByteStrings(ordered.Select(f => f.Data));
        }
        catch (Exception ex) when (ex is DescriptorValidationException or InvalidProtocolBufferException or ArgumentException or InvalidOperationException)
        {
            throw new DecodeException(DecodeFailure.Invalid, $"Protobuf schema id {id} from the registry cannot be linked: {ex.Message}", ex);
        }

        file = built.Single(f => f.Name == main);
        RecordDecoder.Keep(_files, id, file);
        return file;
    }

    // Adds schema `id` after its dependencies to `ordered`; returns its file name.
    private async Task<string> CollectAsync(int root, int id, List<(string Name, ByteString Data)> ordered, HashSet<int> seen, int depth)
    {
        if (depth > 32)
            throw new DecodeException(DecodeFailure.Invalid, string.Create(CultureInfo.InvariantCulture, $"Protobuf schema id {root} has references more than 32 deep"));
        var schema = await source.GetAsync(id, "serialized").ConfigureAwait(false);
        RecordDecoder.CheckType(id, schema.SchemaType, Confluent.SchemaRegistry.SchemaType.Protobuf, Configuration.RecordFormat.Protobuf);
        FileDescriptorProto proto;
        ByteString data;
        try
        {
            data = ByteString.FromBase64(schema.SchemaString);
            proto = FileDescriptorProto.Parser.ParseFrom(data);
        }
        catch (Exception ex) when (ex is FormatException or InvalidProtocolBufferException)
        {
            throw new DecodeException(DecodeFailure.Invalid, string.Create(CultureInfo.InvariantCulture,
                $"Protobuf schema id {id} from the registry is not a serialized FileDescriptorProto (asked with ?format=serialized): {ex.Message}"), ex);
        }

        if (!seen.Add(id))
            return proto.Name;
        var referenced = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var reference in schema.References ?? [])
            referenced[reference.Name] = (await source.GetReferencedAsync(root, reference).ConfigureAwait(false)).Id;
        foreach (var dependency in proto.Dependency)
        {
            if (ordered.Any(f => f.Name == dependency))
                continue;
            if (referenced.TryGetValue(dependency, out var dependencyId))
                await CollectAsync(root, dependencyId, ordered, seen, depth + 1).ConfigureAwait(false);
            else if (WellKnown.ContainsKey(dependency))
                AddWellKnown(dependency, ordered);
            else
                throw new DecodeException(DecodeFailure.Invalid, $"Protobuf schema id {id} imports {dependency}, which is neither among its references nor a well-known type");
        }

        if (!ordered.Any(f => f.Name == proto.Name))
            ordered.Add((proto.Name, data));
        return proto.Name;
    }

    private static void AddWellKnown(string name, List<(string Name, ByteString Data)> ordered)
    {
        var file = WellKnown[name];
        foreach (var dependency in file.Dependencies)
        {
            if (!ordered.Any(f => f.Name == dependency.Name))
                AddWellKnown(dependency.Name, ordered);
        }

        if (!ordered.Any(f => f.Name == name))
            ordered.Add((name, file.SerializedData));
    }
}
