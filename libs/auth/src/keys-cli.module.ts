import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfigModule } from '@conveyor/config';
import { DatabaseModule } from '@conveyor/database';
import { ApiKeyEntity } from './api-key.entity';
import { ApiKeyService } from './api-key.service';

/** Just enough of the app for `npm run keys`: config, the database and the key service. */
@Module({
  imports: [AppConfigModule, DatabaseModule, TypeOrmModule.forFeature([ApiKeyEntity])],
  providers: [ApiKeyService],
})
export class KeysCliModule {}
