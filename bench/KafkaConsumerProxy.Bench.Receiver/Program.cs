using KafkaConsumerProxy.Bench.Receiver;

return await ReceiverApp.RunAsync(args);
